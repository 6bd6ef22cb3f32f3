//! C ABI for rtmfp: filled in by the C ABI issue.
