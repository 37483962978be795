//! Harness for the CLI tests: the built `vod-upload` binary run as a child process against a
//! simulator living in the test process (so killing the CLI leaves the server and its state
//! alone), plus the simulator's HTTP admin API. Every wait is bounded; nothing sleeps for
//! correctness.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use vod_sim::{SimConfig, Simulator};

/// Bound on one CLI run or one awaited line.
pub const TIMEOUT: Duration = Duration::from_secs(90);

/// A simulator on its own runtime in the test process.
pub struct Sim {
    pub sim: Simulator,
}

impl Sim {
    pub fn start() -> Sim {
        Sim {
            sim: Simulator::start_background(SimConfig::default()).expect("simulator starts"),
        }
    }

    pub fn endpoint(&self) -> String {
        self.sim.info().vod_endpoint.clone()
    }

    /// Mode 2 flags with the simulator's account key.
    pub fn mode2(&self) -> Vec<String> {
        let i = self.sim.info();
        vec![
            "--access-key-id".into(),
            i.access_key_id.clone(),
            "--access-key-secret".into(),
            i.access_key_secret.clone(),
            "--vod-endpoint".into(),
            i.vod_endpoint.clone(),
            "--allow-http".into(),
        ]
    }

    /// `POST /_sim/throttle` (bandwidth in bytes per second; `None` removes the limit).
    pub fn throttle(&self, bandwidth: Option<u64>) {
        let body = match bandwidth {
            Some(b) => format!(r#"{{"bandwidth":{b},"latency_ms":0}}"#),
            None => r#"{"latency_ms":0}"#.to_owned(),
        };
        let (status, _) = admin(&self.endpoint(), "POST", "/_sim/throttle", &body);
        assert_eq!(status, 200, "throttle accepted");
    }

    /// `GET /_sim/stats`.
    pub fn stats(&self) -> Value {
        let (status, body) = admin(&self.endpoint(), "GET", "/_sim/stats", "");
        assert_eq!(status, 200, "stats: {body}");
        serde_json::from_str(&body).expect("stats are JSON")
    }
}

/// A minimal HTTP/1.1 client for the admin API (no dependency on the engine's transport).
pub fn admin(endpoint: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).expect("connect to the simulator");
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("admin response");
    let (head, rest) = raw.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    (status, rest.to_owned())
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vod-upload"));
    // The tests decide the credentials, never the environment they run in.
    for v in [
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABA_CLOUD_SECURITY_TOKEN",
    ] {
        c.env_remove(v);
    }
    c.env_remove("RUST_LOG");
    // A run without --state-db must never touch the real user's data directory.
    let data = std::env::temp_dir().join("vod-upload-cli-tests-data");
    c.env("XDG_DATA_HOME", &data).env("HOME", &data);
    c
}

/// A finished run.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// The stdout lines parsed as JSON (every line must be an object).
    pub fn json(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| {
                let v: Value =
                    serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
                assert!(v.is_object(), "not an object: {l}");
                v
            })
            .collect()
    }

    /// The raw stdout line of each event named `name` (to check key order).
    pub fn raw(&self, name: &str) -> Vec<String> {
        self.stdout
            .lines()
            .filter(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["event"] == name))
            .map(str::to_owned)
            .collect()
    }

    pub fn events(&self, name: &str) -> Vec<Value> {
        self.json()
            .into_iter()
            .filter(|v| v["event"] == name)
            .collect()
    }

    pub fn one(&self, name: &str) -> Value {
        let e = self.events(name);
        assert_eq!(
            e.len(),
            1,
            "one {name} line expected:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        e.into_iter().next().unwrap()
    }
}

/// Runs the CLI to its end (bounded by [`TIMEOUT`]).
pub fn run(args: &[String]) -> Output {
    run_with(bin(), args)
}

pub fn run_with(mut cmd: Command, args: &[String]) -> Output {
    let child = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vod-upload starts");
    let mut r = Running::new(child);
    r.wait()
}

/// A CLI run in progress whose stdout lines can be awaited.
pub struct Running {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: thread::JoinHandle<String>,
}

impl Running {
    pub fn spawn(args: &[String]) -> Running {
        let child = bin()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vod-upload starts");
        Running::new(child)
    }

    fn new(mut child: Child) -> Running {
        let stdout = child.stdout.take().expect("stdout piped");
        let mut stderr = child.stderr.take().expect("stderr piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// Waits (bounded) for a JSON line satisfying `f` and returns it.
    pub fn wait_line(&mut self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Ok(v) = serde_json::from_str::<Value>(&line)
                        && f(&v)
                    {
                        return v;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "no line for {what} within {TIMEOUT:?}; got:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// SIGKILL, as `kill -9`.
    pub fn kill_9(mut self) -> String {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
        self.seen.join("\n")
    }

    /// Waits (bounded) for the process to end.
    pub fn wait(&mut self) -> Output {
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("vod-upload did not finish within {TIMEOUT:?}");
            }
            // Polls the child's exit, bounded by the deadline above.
            thread::sleep(Duration::from_millis(20));
        };
        let mut out = std::mem::take(&mut self.seen);
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(10)) {
            out.push(l);
        }
        let stderr = std::mem::replace(&mut self.stderr, thread::spawn(String::new))
            .join()
            .unwrap_or_default();
        let mut stdout = out.join("\n");
        if !stdout.is_empty() {
            stdout.push('\n');
        }
        Output {
            status,
            stdout,
            stderr,
        }
    }
}

/// Writes `size` pseudo-random bytes and returns the path and the file's CRC-64.
pub fn write_file(dir: &Path, name: &str, size: usize) -> (PathBuf, u64) {
    let mut rng = fastrand::Rng::with_seed(size as u64 ^ name.len() as u64);
    let data: Vec<u8> = (0..size).map(|_| rng.u8(..)).collect();
    let path = dir.join(name);
    std::fs::write(&path, &data).expect("test file written");
    (path, vod_upload::protocol::crc64::crc64(&data))
}

pub fn s(v: &str) -> String {
    v.to_owned()
}

pub fn p(path: &Path) -> String {
    path.display().to_string()
}

/// The top-level keys of a JSON object, in the order the text has them.
pub fn key_order(line: &str) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Keys, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Keys>(line).expect("a JSON object").0
}
