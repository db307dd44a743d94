//! `mysql-master-check` as a library: only its command line ([`cli`]), so that the binary (`src/main.rs`)
//! and `cargo xtask man` (the man page and shell completions) share one clap definition. The
//! work itself is in `sengu::mysql_check`.

pub mod cli;
