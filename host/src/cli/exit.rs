//! Exit codes, defined once; `--help` and the README state the same table.

use std::process::ExitCode;

/// How `mcs` exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the command did what was asked.
    Success = 0,
    /// 1: the tool ran and reported an error (bad arguments, the service refused).
    ToolFailed = 1,
    /// 2: usage, configuration or host error (bad flags, a component failed to load).
    Error = 2,
    /// 3: the user must act first (open a URL, check a code); run the command again after.
    AuthRequired = 3,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// The exit-code table shown by `mcs --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  the tool reported an error (bad arguments, the service refused)
  2  usage, configuration or host error
  3  authorization required: open the printed URL, then run the command again";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_table_lists_every_code() {
        for exit in [
            Exit::Success,
            Exit::ToolFailed,
            Exit::Error,
            Exit::AuthRequired,
        ] {
            let line = format!("  {}  ", exit as u8);
            assert!(
                EXIT_CODES_HELP.contains(&line),
                "{exit:?} missing from help"
            );
        }
    }
}
