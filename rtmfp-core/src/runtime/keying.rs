//! The Diffie-Hellman worker pool: responder keying runs here, never on
//! the I/O thread, so a handshake burst does not stall established
//! sessions (the endpoint's offload mode, `EndpointConfig::offload_keying`).
//! The workers run at a lower priority than the I/O thread, so that on a
//! busy machine a flood of handshakes waits, not the sessions.

use super::driver::{Job, Shared};
use crate::endpoint::KeyingJob;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A few threads that run keying jobs and post the results back to the
/// I/O thread as commands.
pub(crate) struct KeyingPool {
    jobs: Option<Sender<KeyingJob>>,
    threads: Vec<JoinHandle<()>>,
}

impl KeyingPool {
    /// Starts `workers` threads.  Results go to the loop through
    /// `commands`, which the waker in `shared` signals.
    pub(crate) fn start(
        workers: usize,
        commands: Sender<Job>,
        shared: Arc<Shared>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<KeyingJob>();
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        for i in 0..workers.max(1) {
            let rx: Arc<Mutex<Receiver<KeyingJob>>> = rx.clone();
            let commands = commands.clone();
            let shared = shared.clone();
            let mut lowered = false;
            threads.push(
                std::thread::Builder::new()
                    .name(format!("rtmfp-keying-{i}"))
                    .spawn(move || loop {
                        if !lowered {
                            // A handshake flood must not take the CPU from
                            // established sessions (issue 14).
                            super::sys::lower_thread_priority();
                            lowered = true;
                        }
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else {
                            return; // the pool was dropped
                        };
                        let done = job.run();
                        let posted =
                            commands.send(Box::new(move |d: &mut super::driver::Driver| {
                                d.stats.keying_offloaded += 1;
                                let now = d.now;
                                d.endpoint.handle_keying_done(now, done);
                            }));
                        if posted.is_err() {
                            return; // the loop has stopped
                        }
                        let _ = shared.waker.wake();
                    })?,
            );
        }
        Ok(KeyingPool {
            jobs: Some(tx),
            threads,
        })
    }

    /// Queues a job for a worker.
    pub(crate) fn submit(&self, job: KeyingJob) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(job);
        }
    }
}

impl Drop for KeyingPool {
    fn drop(&mut self) {
        // Closing the channel ends the workers once their job is done.
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
