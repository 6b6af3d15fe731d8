//! The open connections: their tasks, the cap on how many, and which one to close at it.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::{AbortHandle, Id, JoinSet};

use super::connection::Activity;

/// The default cap on open connections: with the soft `RLIMIT_NOFILE` of the process (Unix),
/// the limit less a quarter of it (at least 64 and at most 1,024 descriptors, never more
/// than half), which stay for the service itself (its outbound calls, the exporters, files,
/// the runtime); without a file limit, none.
///
/// For a soft limit of 1,024 (a common default) that is 768 connections; for 256, 192.
pub fn default_max_connections() -> usize {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .map_or(usize::MAX, for_file_limit)
    }
    #[cfg(not(unix))]
    {
        usize::MAX
    }
}

/// The cap for a limit of `files` open descriptors.
#[cfg_attr(not(unix), allow(dead_code))]
fn for_file_limit(files: u64) -> usize {
    let reserve = (files / 4).clamp(64, 1024).min(files / 2);
    usize::try_from(files - reserve)
        .unwrap_or(usize::MAX)
        .max(1)
}

/// Delays between retries of a failing `accept` (e.g. out of file descriptors): from 10 ms,
/// doubling, up to a second; reset by a successful accept.
#[derive(Debug)]
pub(super) struct Backoff(Duration);

impl Backoff {
    pub(super) const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    pub(super) fn new() -> Self {
        Backoff(Self::FIRST)
    }

    pub(super) fn reset(&mut self) {
        self.0 = Self::FIRST;
    }

    /// The delay before the next retry.
    pub(super) fn next(&mut self) -> Duration {
        let delay = self.0;
        self.0 = (self.0 * 2).min(Self::MAX);
        delay
    }
}

/// The connections' tasks, in the order they were accepted.
#[derive(Debug)]
pub(super) struct Open {
    tasks: JoinSet<()>,
    /// Accept order of each task still counted as open.
    order: HashMap<Id, u64>,
    /// Open connections by accept order: closing the oldest idle one is a walk from the front.
    by_age: BTreeMap<u64, (AbortHandle, Arc<Activity>)>,
    accepted: u64,
}

impl Open {
    pub(super) fn new() -> Self {
        Open {
            tasks: JoinSet::new(),
            order: HashMap::new(),
            by_age: BTreeMap::new(),
            accepted: 0,
        }
    }

    /// How many connections are open (a connection closed by [`close_oldest_idle`] no longer
    /// counts: its task is aborted, which closes its socket at once).
    ///
    /// [`close_oldest_idle`]: Self::close_oldest_idle
    pub(super) fn len(&self) -> usize {
        self.by_age.len()
    }

    pub(super) fn spawn(
        &mut self,
        task: impl Future<Output = ()> + Send + 'static,
        activity: Arc<Activity>,
    ) {
        let handle = self.tasks.spawn(task);
        self.accepted += 1;
        self.order.insert(handle.id(), self.accepted);
        self.by_age.insert(self.accepted, (handle, activity));
    }

    /// Forgets the connections that ended, so the set stays as large as the open ones.
    pub(super) fn reap(&mut self) {
        while let Some(ended) = self.tasks.try_join_next_with_id() {
            self.forget(ended.map_or_else(|error| error.id(), |(id, ())| id));
        }
    }

    /// Waits for a connection to end.
    pub(super) async fn one_ended(&mut self) {
        if let Some(ended) = self.tasks.join_next_with_id().await {
            self.forget(ended.map_or_else(|error| error.id(), |(id, ())| id));
        } else {
            std::future::pending::<()>().await;
        }
    }

    fn forget(&mut self, id: Id) {
        if let Some(age) = self.order.remove(&id) {
            self.by_age.remove(&age);
        }
    }

    /// Whether a connection without a request in flight is open.
    pub(super) fn has_idle(&self) -> bool {
        self.by_age.values().any(|(_, activity)| activity.is_idle())
    }

    /// Closes the oldest connection without a request in flight (silent, or idle between
    /// requests); whether there was one.
    pub(super) fn close_oldest_idle(&mut self) -> bool {
        let Some(age) = self
            .by_age
            .iter()
            .find_map(|(age, (_, activity))| activity.is_idle().then_some(*age))
        else {
            return false;
        };
        if let Some((handle, _)) = self.by_age.remove(&age) {
            handle.abort();
        }
        true
    }

    /// Waits up to `deadline` for every connection to end; how many were left (then dropped,
    /// which closes their sockets).
    pub(super) async fn drain(mut self, deadline: Duration) -> usize {
        let all = async { while self.tasks.join_next().await.is_some() {} };
        let left = match tokio::time::timeout(deadline, all).await {
            Ok(()) => 0,
            Err(_) => {
                while self.tasks.try_join_next().is_some() {}
                self.tasks.len()
            }
        };
        self.tasks.shutdown().await;
        left
    }
}

#[cfg(test)]
mod tests {
    use super::{Backoff, for_file_limit};
    use std::time::Duration;

    #[test]
    fn the_cap_leaves_descriptors_for_the_service() {
        for (files, cap) in [
            (64, 32),
            (256, 192),
            (1024, 768),
            (20_000, 18_976),
            (1 << 20, (1 << 20) - 1024),
            (1, 1),
        ] {
            assert_eq!(for_file_limit(files), cap, "{files}");
        }
    }

    #[test]
    fn the_backoff_doubles_to_a_second() {
        let mut backoff = Backoff::new();
        let delays: Vec<_> = (0..9).map(|_| backoff.next()).collect();
        assert_eq!(delays[0], Duration::from_millis(10));
        assert_eq!(delays[1], Duration::from_millis(20));
        assert_eq!(delays[7], Duration::from_secs(1));
        assert_eq!(delays[8], Duration::from_secs(1));
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(10));
    }
}
