//! Seeds: from the environment, printed so a failure can be replayed.

/// The environment variable that overrides a test's default seed.
pub const SEED_ENV: &str = "RTMFP_SIM_SEED";

/// The seed in `RTMFP_SIM_SEED` if set, else `default`; prints
/// `sim seed = N` to stderr, which the test harness shows when a test fails.
/// Replay a failure with `RTMFP_SIM_SEED=N cargo test ...`.
///
/// Panics if the variable is set but is not a seed (see [`parse_seed`]).
pub fn seed_from_env_or(default: u64) -> u64 {
    let seed = match std::env::var(SEED_ENV) {
        Ok(s) => parse_seed(&s)
            .unwrap_or_else(|| panic!("{SEED_ENV}={s:?} is not a u64 (decimal or 0x hex)")),
        Err(_) => default,
    };
    eprintln!("sim seed = {seed}");
    seed
}

/// Parses a seed written in decimal or as `0x` hex, ignoring surrounding space.
pub fn parse_seed(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_seed;

    #[test]
    fn parses_decimal_and_hex() {
        assert_eq!(parse_seed(" 42 "), Some(42));
        assert_eq!(parse_seed("0xff"), Some(255));
        assert_eq!(parse_seed("banana"), None);
    }
}
