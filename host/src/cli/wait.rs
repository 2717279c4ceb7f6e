//! Waiting for the person to finish a sign-in (`call --wait`, `auth login --wait`): each new
//! challenge is shown once, then a dot per try.

use std::time::Duration;

use mcs_host::AuthChallenge;

/// How often to try again. The provider polls the broker no faster than the broker asks, so
/// this only bounds how soon a finished sign-in is noticed.
pub const STEP: Duration = Duration::from_secs(2);

/// What has been shown so far.
#[derive(Debug, Default)]
pub struct Progress {
    shown: Option<(Option<String>, Option<String>)>,
}

impl Progress {
    /// True when `c` asks for something not shown yet (a new URL or code); it then counts as
    /// shown, and any line of dots before it is ended.
    pub fn is_new(&mut self, c: &AuthChallenge) -> bool {
        let key = (c.url.clone(), c.code.clone());
        if self.shown.as_ref() == Some(&key) {
            return false;
        }
        self.end_line();
        self.shown = Some(key);
        true
    }

    /// Ends the line of dots, if a challenge was shown.
    pub fn end_line(&self) {
        if self.shown.is_some() {
            eprintln!();
        }
    }

    /// Prints a dot and waits one [`STEP`].
    pub async fn tick(&self) {
        eprint!(".");
        tokio::time::sleep(STEP).await;
    }
}
