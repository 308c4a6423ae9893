//! A server that refuses one command: the proxy counts the commands of one verb (`STOR`,
//! `RNTO`) over all sessions and, at the `nth`, sends `NOOP` to the server instead and answers
//! the client with the refusal (`452 Insufficient storage space`, `552 Exceeded storage
//! allocation`), in the place of the `NOOP`'s reply: a full disk or a quota, as a server says
//! it, without the server doing the command.
//!
//! Commands and final replies of a session are matched in order (the session's greeting is
//! the reply to no command); the client writes whole command lines, so a line is never split
//! across reads of the proxy.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// The refusal armed on a proxy.
#[derive(Debug, Default)]
pub(super) struct Refusals {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    armed: Option<(String, usize, String)>,
    /// Commands seen per verb since [`Refusals::arm`].
    seen: BTreeMap<String, usize>,
    fired: usize,
}

/// What one session's relays share: which of its commands were replaced, by command index.
#[derive(Debug, Default)]
pub(super) struct Session {
    commands: usize,
    finals: usize,
    replace: VecDeque<(usize, String)>,
}

impl Refusals {
    /// Refuses the `nth` (from 1) command `verb` with `reply` (none: only counts).
    pub fn arm(&self, refusal: Option<(&str, usize, &str)>) {
        let mut st = self.state.lock().unwrap();
        st.armed = refusal.map(|(v, n, r)| (v.to_ascii_uppercase(), n, r.to_string()));
        st.seen.clear();
    }

    pub fn fired(&self) -> usize {
        self.state.lock().unwrap().fired
    }

    /// Commands of `verb` seen since arming.
    pub fn seen(&self, verb: &str) -> usize {
        self.state.lock().unwrap().seen.get(&verb.to_ascii_uppercase()).copied().unwrap_or(0)
    }

    /// The client's bytes, with a refused command replaced by `NOOP`.
    pub fn upward(&self, session: &Mutex<Session>, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len());
        let mut session = session.lock().unwrap();
        for line in chunk.split_inclusive(|&b| b == b'\n') {
            if !line.ends_with(b"\n") {
                out.extend_from_slice(line);
                continue;
            }
            let index = session.commands;
            session.commands += 1;
            let verb = line.split(|&b| b == b' ' || b == b'\r').next().unwrap_or_default();
            let verb = String::from_utf8_lossy(verb).to_ascii_uppercase();
            let mut st = self.state.lock().unwrap();
            let count = {
                let n = st.seen.entry(verb.clone()).or_insert(0);
                *n += 1;
                *n
            };
            match &st.armed {
                Some((v, nth, reply)) if *v == verb && *nth == count => {
                    session.replace.push_back((index, reply.clone()));
                    st.fired += 1;
                    out.extend_from_slice(b"NOOP\r\n");
                }
                _ => out.extend_from_slice(line),
            }
        }
        out
    }

    /// One reply line from the server: the refusal instead of the `NOOP`'s reply.
    pub fn downward(&self, session: &Mutex<Session>, line: Vec<u8>) -> Vec<u8> {
        let is_final =
            line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit) && line[3] == b' ' && line[0] >= b'2';
        if !is_final {
            return line;
        }
        let mut session = session.lock().unwrap();
        session.finals += 1;
        // The first final reply is the greeting: reply `k` answers command `k - 2`.
        let answers = session.finals.checked_sub(2);
        match session.replace.front() {
            Some((index, _)) if Some(*index) == answers => {
                let (_, reply) = session.replace.pop_front().expect("just looked");
                format!("{reply}\r\n").into_bytes()
            }
            _ => line,
        }
    }
}
