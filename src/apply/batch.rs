//! Small files copied together: a destination that takes several at once
//! ([`Target::staged_batch`](crate::backend::Target::staged_batch)) gets runs of a wave's
//! small staged copies as one job each, so that a worker pays the round trips of one file for
//! a few (SFTP: two round trips per file, however small). What is held in memory stays small:
//! files of at most [`SMALL`] bytes, at most [`JOB_BYTES`] per job.

use crate::model::side::Side;

/// The largest file copied with others.
pub const SMALL: u64 = 16 * 1024;
/// The most bytes one job holds in memory.
pub const JOB_BYTES: u64 = 64 * 1024;

/// The items of a wave as jobs, in order: runs of small copies to the same side go together
/// (`small`: the destination side and size of an item that may go with others), up to what
/// that side takes (`limit`), and never in fewer jobs than there are workers (`crew`): a few
/// files go out one per worker, as before. Every other item is a job of its own.
pub fn jobs(
    items: &[usize],
    small: impl Fn(usize) -> Option<(Side, u64)>,
    limit: impl Fn(Side) -> usize,
    crew: usize,
) -> Vec<Vec<usize>> {
    let smalls = items.iter().filter(|&&i| small(i).is_some()).count();
    let per_job = |side| limit(side).min(smalls.div_ceil(crew.max(1))).max(1);
    let mut jobs: Vec<Vec<usize>> = Vec::new();
    // The side and bytes of the last job, while it may take more.
    let mut open: Option<(Side, u64)> = None;
    for &i in items {
        let Some((side, size)) = small(i) else {
            jobs.push(vec![i]);
            open = None;
            continue;
        };
        match (open, jobs.last_mut()) {
            (Some((s, bytes)), Some(job)) if s == side && bytes + size <= JOB_BYTES && job.len() < per_job(side) => {
                job.push(i);
                open = Some((s, bytes + size));
            }
            _ => {
                jobs.push(vec![i]);
                open = Some((side, size));
            }
        }
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote_small(sizes: &[Option<u64>]) -> impl Fn(usize) -> Option<(Side, u64)> + '_ {
        move |i| sizes[i].map(|s| (Side::Remote, s))
    }

    #[test]
    fn small_copies_go_together_up_to_the_limit_and_others_alone() {
        let sizes = [Some(10), Some(10), None, Some(10), Some(10), Some(10), Some(10)];
        let items: Vec<usize> = (0..sizes.len()).collect();
        let jobs = jobs(&items, remote_small(&sizes), |_| 3, 1);
        assert_eq!(jobs, vec![vec![0, 1], vec![2], vec![3, 4, 5], vec![6]]);
    }

    #[test]
    fn never_fewer_jobs_than_workers_nor_more_bytes_than_allowed() {
        let sizes = vec![Some(100); 8];
        let items: Vec<usize> = (0..8).collect();
        assert_eq!(jobs(&items, remote_small(&sizes), |_| 8, 8).len(), 8, "one per worker");
        assert_eq!(jobs(&items, remote_small(&sizes), |_| 8, 2), vec![(0..4).collect::<Vec<_>>(), (4..8).collect()]);
        let big = vec![Some(JOB_BYTES / 2 + 1); 4];
        assert_eq!(jobs(&items[..4], remote_small(&big), |_| 8, 1).len(), 4, "bytes bound");
        assert_eq!(jobs(&items, remote_small(&sizes), |_| 1, 1).len(), 8, "a side that takes one");
    }

    #[test]
    fn copies_to_different_sides_do_not_share_a_job() {
        let small = |i: usize| Some((if i.is_multiple_of(2) { Side::Local } else { Side::Remote }, 1));
        assert_eq!(jobs(&[0, 1, 2], small, |_| 8, 1), vec![vec![0], vec![1], vec![2]]);
    }
}
