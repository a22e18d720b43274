//! Command API benchmark (written below).
fn main() {}
