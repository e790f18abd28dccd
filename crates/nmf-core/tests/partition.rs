//! Every shape-only plan of `nmf_core::partition`, for shapes up to 10⁶ x 10⁶ and k up to 1,000:
//! pieces cover their range exactly and in order, and no tile exceeds its scratch. No fits, so
//! the property is cheap to run over many shapes.

use nmf_core::partition::{self, TILE, TilePlan};
use proptest::prelude::*;

fn covers(bounds: &[usize], d: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(bounds[0], 0);
    prop_assert_eq!(*bounds.last().unwrap(), d);
    prop_assert!(
        bounds.windows(2).all(|c| c[0] < c[1]) || d == 0,
        "{bounds:?}"
    );
    Ok(())
}

fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![1usize..=64, 1usize..=5_000, 1usize..=1_000_000]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_plan_covers_its_range_and_fits_its_scratch(
        n in dim(),
        m in dim(),
        k in 1usize..=1000,
        threads in 1usize..=16,
    ) {
        // The MU tiles, both half-steps: the scratch is TILE entries per tile.
        for (along, across) in [(n, m), (m, n)] {
            let p = TilePlan::new(along, across);
            covers(&p.pieces, along)?;
            covers(&p.chunks, across)?;
            prop_assert!(p.tile_len() <= TILE, "{along} x {across}: tile {}", p.tile_len());
            let g = partition::groups(&p.pieces, threads);
            covers(&g, along)?;
            prop_assert!(g.len() - 1 <= threads);
            prop_assert!(g.iter().all(|b| p.pieces.binary_search(b).is_ok()));
        }
        // cd sweep blocks over both factors.
        for d in [n, m] {
            covers(&partition::sweep_blocks(d), d)?;
        }
        // Product blocks along every output side the solvers use (n x k, k x m, m x k, k x k).
        for d in [n, m, k] {
            let b = partition::matmul_blocks(d);
            covers(&b, d)?;
            prop_assert!(partition::widest(&b) <= partition::matmul_block_len(d));
        }
        // Loss column blocks: one n x width tile, at most TILE entries unless one column is more.
        let width = partition::fold_width(n, m);
        prop_assert!(width >= 1 && width <= m);
        prop_assert!(n * width <= TILE.max(n));
    }

    #[test]
    fn bounded_pieces_never_exceed_their_bound(d in dim(), max_len in 1usize..=100_000) {
        let b = partition::bounded(d, max_len);
        covers(&b, d)?;
        prop_assert!(partition::widest(&b) <= max_len);
    }
}
