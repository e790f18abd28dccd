//! The process grid and every collective the fit uses, each one counting the bytes this rank
//! sends and the seconds it spends, so the report's traffic can be checked against the
//! algorithm's formula.
//!
//! Bytes are counted as the data this rank must deliver to others: its piece once per other
//! member for an all-gather (what a ring or a pairwise exchange sends), the slices for other
//! ranks for an all-to-all. No collective here does arithmetic: sums cross ranks as values and
//! are added by [`crate::tree`], in an order fixed by the data's shape alone.

use std::time::Instant;

use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::{Color, Communicator, SimpleCommunicator};
use mpi::traits::*;

/// What a collective moved, for the report and the traffic test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Traffic {
    /// Gram matrices, sums and scalars of the factor pieces (all-gather over all ranks).
    Pieces,
    /// H pieces gathered inside a processor column (`H_j`).
    GatherH,
    /// W pieces gathered inside a processor row (`W_i`).
    GatherW,
    /// `X·Hᵀ` partials exchanged inside a processor row (the reduce-scatter).
    ReduceW,
    /// `Wᵀ·X` partials exchanged inside a processor column.
    ReduceH,
    /// Loss sums for the stopping rule and the report.
    Loss,
    /// Setup and teardown: statistics of X, the start, error agreement, the output gather.
    Other,
}

/// Number of [`Traffic`] kinds.
pub const KINDS: usize = 7;

impl Traffic {
    /// Every kind, in the report's order.
    pub const ALL: [Traffic; KINDS] = [
        Traffic::Pieces,
        Traffic::GatherH,
        Traffic::GatherW,
        Traffic::ReduceW,
        Traffic::ReduceH,
        Traffic::Loss,
        Traffic::Other,
    ];

    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Traffic::Pieces => "pieces",
            Traffic::GatherH => "gather_h",
            Traffic::GatherW => "gather_w",
            Traffic::ReduceW => "reduce_xht",
            Traffic::ReduceH => "reduce_wtx",
            Traffic::Loss => "loss",
            Traffic::Other => "other",
        }
    }
}

/// Bytes sent and seconds spent, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    /// Bytes this rank sent, per [`Traffic`] kind.
    pub bytes: [u64; KINDS],
    /// Collective calls, per kind.
    pub calls: [u64; KINDS],
    /// Seconds inside collectives (waiting included).
    pub comm_seconds: f64,
}

impl Counters {
    /// All bytes.
    pub fn total(&self) -> u64 {
        self.bytes.iter().sum()
    }

    /// `self − before`, kind by kind.
    pub fn since(&self, before: &Counters) -> Counters {
        let mut d = *self;
        for i in 0..KINDS {
            d.bytes[i] -= before.bytes[i];
            d.calls[i] -= before.calls[i];
        }
        d.comm_seconds -= before.comm_seconds;
        d
    }
}

/// The `pr x pc` grid: rank `i·pc + j` is processor `(i, j)`; its row communicator holds the
/// ranks of processor row `i` (ranked by `j`), its column communicator those of processor
/// column `j` (ranked by `i`).
pub struct Grid {
    world: SimpleCommunicator,
    row: SimpleCommunicator,
    col: SimpleCommunicator,
    /// Processor rows.
    pub pr: usize,
    /// Processor columns.
    pub pc: usize,
    /// This rank's processor row.
    pub i: usize,
    /// This rank's processor column.
    pub j: usize,
    /// This rank (in the world communicator).
    pub rank: usize,
    counters: Counters,
}

/// A grid that cannot be made from the ranks at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridError(pub String);

impl std::fmt::Display for GridError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GridError {}

/// Parses `PRxPC` (e.g. `2x2`).
///
/// # Errors
/// Not two positive integers separated by `x`.
pub fn parse_grid(s: &str) -> Result<(usize, usize), GridError> {
    let bad = || GridError(format!("grid {s:?}: expected PRxPC, e.g. 2x2"));
    let (a, b) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let pr: usize = a.trim().parse().map_err(|_| bad())?;
    let pc: usize = b.trim().parse().map_err(|_| bad())?;
    if pr == 0 || pc == 0 {
        return Err(bad());
    }
    Ok((pr, pc))
}

impl Grid {
    /// The grid over `world`: `grid` when given, else the most square power-of-two grid with
    /// more processor rows than columns when the two differ.
    ///
    /// # Errors
    /// The grid's size differs from the number of ranks, or either side is not a power of two
    /// (the summation tree needs aligned parts; every rank would report the same error).
    pub fn new(world: SimpleCommunicator, grid: Option<(usize, usize)>) -> Result<Self, GridError> {
        let p = world.size() as usize;
        let (pr, pc) = match grid {
            Some(g) => g,
            None => {
                let l = p.trailing_zeros();
                (1 << l.div_ceil(2), 1 << (l / 2))
            }
        };
        if pr * pc != p {
            return Err(GridError(format!(
                "grid {pr}x{pc} needs {} ranks, but mpirun started {p}",
                pr * pc
            )));
        }
        if !pr.is_power_of_two() || !pc.is_power_of_two() {
            return Err(GridError(format!(
                "grid {pr}x{pc}: both sides must be powers of two (1, 2, 4, ...) so that every \
                 rank's share is a whole subtree of the fixed summation order"
            )));
        }
        let rank = world.rank() as usize;
        let (i, j) = (rank / pc, rank % pc);
        let row = world
            .split_by_color(Color::with_value(i as i32))
            .ok_or_else(|| GridError("MPI_Comm_split for the row communicator failed".into()))?;
        let col = world
            .split_by_color(Color::with_value(j as i32))
            .ok_or_else(|| GridError("MPI_Comm_split for the column communicator failed".into()))?;
        Ok(Grid {
            world,
            row,
            col,
            pr,
            pc,
            i,
            j,
            rank,
            counters: Counters::default(),
        })
    }

    /// Number of ranks.
    pub fn size(&self) -> usize {
        self.pr * self.pc
    }

    /// The counters so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    fn comm(&self, which: Scope) -> &SimpleCommunicator {
        match which {
            Scope::World => &self.world,
            Scope::Row => &self.row,
            Scope::Col => &self.col,
        }
    }

    fn count<R>(&mut self, kind: Traffic, bytes: usize, f: impl FnOnce(&Self) -> R) -> R {
        let t = Instant::now();
        let r = f(self);
        let c = &mut self.counters;
        c.comm_seconds += t.elapsed().as_secs_f64();
        c.bytes[kind as usize] += bytes as u64;
        c.calls[kind as usize] += 1;
        r
    }

    /// All-gather with per-member counts: `out` receives every member's `send`, in member order.
    /// `counts[r]` is member `r`'s length (`counts[me] == send.len()`).
    pub fn all_gather<T: Equivalence + Copy + Default>(
        &mut self,
        scope: Scope,
        kind: Traffic,
        send: &[T],
        counts: &[usize],
        out: &mut Vec<T>,
    ) {
        let q = counts.len();
        let total: usize = counts.iter().sum();
        out.clear();
        out.resize(total, T::default());
        let c: Vec<i32> = counts.iter().map(|&v| to_count(v)).collect();
        let d = displs(counts);
        let bytes = size_of_val(send) * (q - 1);
        self.count(kind, bytes, |g| {
            let mut part = PartitionMut::new(&mut out[..], &c[..], &d[..]);
            g.comm(scope).all_gather_varcount_into(send, &mut part);
        });
    }

    /// All-to-all with per-destination counts: `send` holds the slices for members `0..q` one
    /// after another (`send_counts`), `out` receives the members' slices for this rank in
    /// member order (`recv_counts`).
    pub fn all_to_all<T: Equivalence + Copy + Default>(
        &mut self,
        scope: Scope,
        kind: Traffic,
        send: &[T],
        send_counts: &[usize],
        recv_counts: &[usize],
        out: &mut Vec<T>,
    ) {
        let me = self.comm(scope).rank() as usize;
        out.clear();
        out.resize(recv_counts.iter().sum(), T::default());
        let sc: Vec<i32> = send_counts.iter().map(|&v| to_count(v)).collect();
        let rc: Vec<i32> = recv_counts.iter().map(|&v| to_count(v)).collect();
        let (sd, rd) = (displs(send_counts), displs(recv_counts));
        let bytes = (send_counts.iter().sum::<usize>() - send_counts[me]) * size_of::<T>();
        self.count(kind, bytes, |g| {
            let part = Partition::new(send, &sc[..], &sd[..]);
            let mut recv = PartitionMut::new(&mut out[..], &rc[..], &rd[..]);
            g.comm(scope).all_to_all_varcount_into(&part, &mut recv);
        });
    }

    /// Gathers every rank's `send` on world rank 0, in rank order (`counts[r]` is rank `r`'s
    /// length); `out` is filled on rank 0 only.
    pub fn gather_to_root<T: Equivalence + Copy + Default>(
        &mut self,
        kind: Traffic,
        send: &[T],
        counts: &[usize],
        out: &mut Vec<T>,
    ) {
        let bytes = if self.rank == 0 { 0 } else { size_of_val(send) };
        let root = self.rank == 0;
        if root {
            out.clear();
            out.resize(counts.iter().sum(), T::default());
        }
        let c: Vec<i32> = counts.iter().map(|&v| to_count(v)).collect();
        let d = displs(counts);
        self.count(kind, bytes, |g| {
            let r = g.world.process_at_rank(0);
            if root {
                let mut part = PartitionMut::new(&mut out[..], &c[..], &d[..]);
                r.gather_varcount_into_root(send, &mut part);
            } else {
                r.gather_varcount_into(send);
            }
        });
    }

    /// Broadcast of `buf` from world rank `root`.
    pub fn broadcast<T: Equivalence>(&mut self, kind: Traffic, root: usize, buf: &mut [T]) {
        let bytes = if root == self.rank {
            size_of_val(buf) * (self.size() - 1)
        } else {
            0
        };
        self.count(kind, bytes, |g| {
            g.world.process_at_rank(root as i32).broadcast_into(buf);
        });
    }

    /// Members of a scope.
    pub fn members(&self, scope: Scope) -> usize {
        match scope {
            Scope::World => self.size(),
            Scope::Row => self.pc,
            Scope::Col => self.pr,
        }
    }

    /// Every rank learns whether any rank failed; all of them then return the same error: the
    /// lowest failing rank's message, broadcast from it. Call it on every rank at the same point.
    ///
    /// # Errors
    /// [`RankError`] when some rank passed an error.
    pub fn agree<V>(&mut self, local: Result<V, String>) -> Result<V, RankError> {
        let flag = [i32::from(local.is_err())];
        let mut flags = Vec::new();
        let counts = vec![1; self.size()];
        self.all_gather(Scope::World, Traffic::Other, &flag, &counts, &mut flags);
        let Some(bad) = flags.iter().position(|&f| f != 0) else {
            return local.map_err(|_| unreachable!("no rank failed"));
        };
        let text = match &local {
            Err(e) if bad == self.rank => e.clone(),
            _ => String::new(),
        };
        let mut len = [text.len() as u64];
        self.broadcast(Traffic::Other, bad, &mut len);
        let mut bytes = text.into_bytes();
        bytes.resize(len[0] as usize, 0);
        self.broadcast(Traffic::Other, bad, &mut bytes[..]);
        Err(RankError {
            rank: bad,
            failed: flags.iter().filter(|&&f| f != 0).count(),
            message: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}

/// Which communicator a collective runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// All ranks.
    World,
    /// This rank's processor row.
    Row,
    /// This rank's processor column.
    Col,
}

/// The error every rank returns when one of them failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankError {
    /// The lowest failing rank.
    pub rank: usize,
    /// How many ranks failed.
    pub failed: usize,
    /// Its message.
    pub message: String,
}

impl std::fmt::Display for RankError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rank {}: {}", self.rank, self.message)?;
        if self.failed > 1 {
            write!(f, " ({} ranks failed; the lowest is shown)", self.failed)?;
        }
        Ok(())
    }
}

impl std::error::Error for RankError {}

fn to_count(v: usize) -> i32 {
    i32::try_from(v).expect("a message of at most 2^31 - 1 elements (MPI counts are C ints)")
}

fn displs(counts: &[usize]) -> Vec<i32> {
    let mut at = 0;
    counts
        .iter()
        .map(|&c| {
            let d = to_count(at);
            at += c;
            d
        })
        .collect()
}
