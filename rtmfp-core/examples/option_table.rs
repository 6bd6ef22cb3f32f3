//! Prints core's table of host options as JSON
//! (`rtmfp_core::host::options::table_json`): what
//! `scripts/option_stubs.py` generates the Python and Node documentation
//! and typings of the options from.
//!
//! `cargo run -q -p rtmfp-core --example option_table`

fn main() {
    print!("{}", rtmfp_core::host::options::table_json());
}
