//! A synthetic document-term corpus with planted topics: the sparse counterpart of the
//! swimmer set, so topic recovery can be scored against a known answer.
//!
//! The vocabulary is split into a few shared common words and one block of topic words per
//! topic (disjoint blocks, so supports are mostly disjoint: they overlap only on the common
//! words). Each topic puts Zipf weights `1/rank` on its own block (most of its mass) and on the
//! common words (the rest), ranks shuffled per topic. Each document mixes 1 to 3 topics with
//! uniform-Dirichlet proportions and draws its length's worth of words from the mixture.
//!
//! Only integer arithmetic, uniform draws and `+ * /` enter the result (no `ln`, `exp` or
//! `powf`, whose last bit may differ between math libraries), and the documents are drawn one
//! after another from one Xoshiro256++ stream: the same seed gives the same bits on every
//! platform and for any thread count. The counts are collected as triplets, never as a dense
//! matrix.

use faer::Mat;
use nmf_core::{CoreError, SparseMat};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// What to generate: [`CorpusSpec::generate`] (the defaults are the built-in `corpus`).
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusSpec {
    /// Documents (rows of X).
    pub n_docs: usize,
    /// Vocabulary size (columns of X).
    pub n_terms: usize,
    /// Planted topics.
    pub n_topics: usize,
    /// Mean words per document; lengths are uniform in `[doc_len/2, 3·doc_len/2]`.
    pub doc_len: usize,
    /// Share of each topic's mass on the shared common words, in `[0, 1)`.
    pub common_mass: f64,
    /// Seed of the generator.
    pub seed: u64,
}

impl Default for CorpusSpec {
    /// 2000 documents of about 100 words over 1000 terms, 8 topics, 15% common words, seed 0.
    fn default() -> Self {
        CorpusSpec {
            n_docs: 2000,
            n_terms: 1000,
            n_topics: 8,
            doc_len: 100,
            common_mass: 0.15,
            seed: 0,
        }
    }
}

/// A generated corpus and its ground truth.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// Word counts, documents x terms (integers stored as f64).
    pub x: SparseMat<f64>,
    /// The planted topics, topics x terms, each row a distribution (sums to 1).
    pub topics: Mat<f64>,
    /// Each document's topic proportions, documents x topics, rows sum to 1 (1 to 3 nonzero).
    pub doc_topics: Mat<f64>,
    /// One word per term: `t3_kabo` belongs to topic 3, `c_lumi` is a shared common word.
    pub vocabulary: Vec<String>,
    /// Topic of each term (`None` for the common words).
    pub term_topic: Vec<Option<usize>>,
}

/// Consonants and vowels of the fake words (75 syllables, all pronounceable).
const CONSONANTS: &[u8] = b"bdfgklmnprstvzh";
const VOWELS: &[u8] = b"aeiou";

/// A pronounceable word for `i`: its digits in base 75, one syllable each (at least two).
fn fake_word(mut i: usize) -> String {
    let n = CONSONANTS.len() * VOWELS.len();
    let mut syllables = Vec::new();
    loop {
        let s = i % n;
        syllables.push([CONSONANTS[s / VOWELS.len()], VOWELS[s % VOWELS.len()]]);
        i /= n;
        if i == 0 && syllables.len() >= 2 {
            break;
        }
    }
    syllables.iter().flatten().map(|&b| b as char).collect()
}

/// `v` shuffled (Fisher-Yates with `u32` draws, which are the same on every platform).
fn shuffle<T>(v: &mut [T], rng: &mut Xoshiro256PlusPlus) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i as u32) as usize;
        v.swap(i, j);
    }
}

/// Zipf weights `1/rank` over `terms` in a random rank order, scaled to sum to `mass`.
fn zipf(terms: &[usize], mass: f64, rng: &mut Xoshiro256PlusPlus) -> Vec<(usize, f64)> {
    let mut order = terms.to_vec();
    shuffle(&mut order, rng);
    let w: Vec<f64> = (0..order.len()).map(|r| 1.0 / (r + 1) as f64).collect();
    let total: f64 = w.iter().sum();
    order
        .into_iter()
        .zip(w)
        .map(|(t, w)| (t, mass * w / total))
        .collect()
}

impl CorpusSpec {
    /// Generates the corpus.
    ///
    /// # Errors
    /// No documents, no topics, fewer than two terms per topic after the common words,
    /// `doc_len = 0`, or `common_mass` outside `[0, 1)`.
    pub fn generate(&self) -> Result<Corpus, CoreError> {
        let k = self.n_topics;
        if self.n_docs == 0 || self.n_docs > u32::MAX as usize {
            return Err(CoreError::invalid(
                "n_docs",
                self.n_docs,
                "between 1 and u32::MAX",
            ));
        }
        if k == 0 {
            return Err(CoreError::invalid("n_topics", 0, "at least 1"));
        }
        if self.doc_len == 0 {
            return Err(CoreError::invalid("doc_len", 0, "at least 1"));
        }
        if !(0.0..1.0).contains(&self.common_mass) {
            return Err(CoreError::invalid(
                "common_mass",
                self.common_mass,
                "a number in [0, 1)",
            ));
        }
        // 5% of the vocabulary is common words (none if there is no common mass).
        let n_common = if self.common_mass > 0.0 {
            (self.n_terms / 20).max(1)
        } else {
            0
        };
        let per_topic = self.n_terms.saturating_sub(n_common) / k;
        if per_topic < 2 || self.n_terms > u32::MAX as usize {
            return Err(CoreError::invalid(
                "n_terms",
                self.n_terms,
                "at least 2 topic words per topic besides the common words (5%)",
            ));
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);

        // Terms: common words first, then topic blocks (the remainder of the division joins
        // the last topic), so a term's topic is readable from its index.
        let term_topic: Vec<Option<usize>> = (0..self.n_terms)
            .map(|j| (j >= n_common).then(|| ((j - n_common) / per_topic).min(k - 1)))
            .collect();
        let vocabulary = term_topic
            .iter()
            .enumerate()
            .map(|(j, t)| match t {
                None => format!("c_{}", fake_word(j)),
                Some(t) => format!("t{t}_{}", fake_word(j)),
            })
            .collect();
        let common: Vec<usize> = (0..n_common).collect();
        // Each topic: its sparse support and cumulative weights, for drawing words.
        let mut topics = Mat::<f64>::zeros(k, self.n_terms);
        let mut supports: Vec<Vec<(usize, f64)>> = Vec::with_capacity(k);
        for t in 0..k {
            let own: Vec<usize> = (n_common..self.n_terms)
                .filter(|&j| term_topic[j] == Some(t))
                .collect();
            let mut support = zipf(&own, 1.0 - self.common_mass, &mut rng);
            if n_common > 0 {
                support.extend(zipf(&common, self.common_mass, &mut rng));
            }
            let total: f64 = support.iter().map(|s| s.1).sum();
            for &(j, w) in &support {
                topics[(t, j)] = w / total;
            }
            support.sort_by_key(|s| s.0);
            supports.push(support);
        }

        let mut doc_topics = Mat::<f64>::zeros(self.n_docs, k);
        let (mut rows, mut cols, mut vals) = (Vec::new(), Vec::new(), Vec::new());
        let mut counts = vec![0u32; self.n_terms];
        let mut touched = Vec::new();
        let mut cdf: Vec<(usize, f64)> = Vec::new();
        for d in 0..self.n_docs {
            // 1 to 3 distinct topics, proportions uniform on the simplex (sorted uniform
            // spacings: Dirichlet(1, ..., 1) without logarithms).
            let m = rng.random_range(1..=3u32).min(k as u32) as usize;
            let mut chosen: Vec<usize> = (0..k).collect();
            shuffle(&mut chosen, &mut rng);
            chosen.truncate(m);
            chosen.sort_unstable();
            let mut cuts: Vec<f64> = (0..m - 1).map(|_| rng.random::<f64>()).collect();
            cuts.sort_by(f64::total_cmp);
            cuts.insert(0, 0.0);
            cuts.push(1.0);
            for (i, &t) in chosen.iter().enumerate() {
                doc_topics[(d, t)] = cuts[i + 1] - cuts[i];
            }
            // The mixture's cumulative distribution over its (sparse) support.
            cdf.clear();
            let mut acc = 0.0;
            for &t in &chosen {
                let p = doc_topics[(d, t)];
                for &(j, w) in &supports[t] {
                    acc += p * w;
                    cdf.push((j, acc));
                }
            }
            let half = self.doc_len / 2;
            let len = rng
                .random_range(half as u64..=(self.doc_len + half) as u64)
                .max(1);
            for _ in 0..len {
                let u = rng.random::<f64>() * acc;
                let pos = cdf.partition_point(|c| c.1 <= u).min(cdf.len() - 1);
                let j = cdf[pos].0;
                if counts[j] == 0 {
                    touched.push(j);
                }
                counts[j] += 1;
            }
            touched.sort_unstable();
            for &j in &touched {
                rows.push(d as u32);
                cols.push(j as u32);
                vals.push(f64::from(counts[j]));
                counts[j] = 0;
            }
            touched.clear();
        }
        let x = SparseMat::from_triplets(self.n_docs, self.n_terms, &rows, &cols, &vals)?;
        Ok(Corpus {
            x,
            topics,
            doc_topics,
            vocabulary,
            term_topic,
        })
    }
}

/// The built-in corpus: [`CorpusSpec::default`] generated.
pub fn corpus() -> Corpus {
    CorpusSpec::default()
        .generate()
        .expect("the default corpus specification is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> CorpusSpec {
        CorpusSpec {
            n_docs: 300,
            n_terms: 200,
            n_topics: 4,
            doc_len: 50,
            ..CorpusSpec::default()
        }
    }

    #[test]
    fn topics_are_distributions_on_their_own_block_and_the_common_words() {
        let c = small().generate().unwrap();
        assert_eq!(c.x.shape(), (300, 200));
        assert_eq!(c.topics.shape(), (4, 200));
        for t in 0..4 {
            let row: Vec<f64> = (0..200).map(|j| c.topics[(t, j)]).collect();
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            for (j, &w) in row.iter().enumerate() {
                match c.term_topic[j] {
                    Some(u) if u != t => assert_eq!(w, 0.0, "topic {t} term {j}"),
                    _ => assert!(w > 0.0, "topic {t} term {j}"),
                }
            }
        }
        for (j, word) in c.vocabulary.iter().enumerate() {
            let prefix = c.term_topic[j].map_or("c_".to_string(), |t| format!("t{t}_"));
            assert!(word.starts_with(&prefix), "{word}");
        }
        let mut unique = c.vocabulary.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 200, "words are distinct");
    }

    #[test]
    fn documents_mix_one_to_three_topics_and_have_their_length() {
        let spec = small();
        let c = spec.generate().unwrap();
        for d in 0..spec.n_docs {
            let theta: Vec<f64> = (0..4).map(|t| c.doc_topics[(d, t)]).collect();
            let nz = theta.iter().filter(|&&p| p > 0.0).count();
            assert!((1..=3).contains(&nz), "doc {d}: {theta:?}");
            assert!((theta.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let (terms, counts) = c.x.row(d);
            let len: f64 = counts.iter().sum();
            assert!((25.0..=75.0).contains(&len), "doc {d}: {len} words");
            for &j in terms {
                // Every word comes from one of the document's topics.
                let support = (0..4).any(|t| theta[t] > 0.0 && c.topics[(t, j as usize)] > 0.0);
                assert!(support, "doc {d} term {j}");
            }
        }
    }

    #[test]
    fn same_seed_same_bits_other_seed_other_corpus() {
        let a = small().generate().unwrap();
        let b = small().generate().unwrap();
        assert_eq!(a.x, b.x);
        assert_eq!(a.doc_topics, b.doc_topics);
        let c = CorpusSpec { seed: 1, ..small() }.generate().unwrap();
        assert_ne!(a.x, c.x);
    }

    #[test]
    fn the_bits_are_pinned() {
        // Platform independence: these numbers come from integer and IEEE arithmetic only, so
        // any machine gives them; a change here changes every corpus.
        let c = small().generate().unwrap();
        let total: f64 = c.x.values().iter().sum();
        let first = c.x.row(0);
        assert_eq!((c.x.nnz(), total), (8198, 14946.0));
        assert_eq!(&first.0[..5], &[1, 3, 5, 6, 8]);
        assert_eq!(&first.1[..5], &[1.0, 4.0, 2.0, 1.0, 1.0]);
        assert_eq!(&c.vocabulary[..3], ["c_baba", "c_beba", "c_biba"]);
    }

    #[test]
    fn bad_specifications_are_refused() {
        for spec in [
            CorpusSpec {
                n_docs: 0,
                ..small()
            },
            CorpusSpec {
                n_topics: 0,
                ..small()
            },
            CorpusSpec {
                n_terms: 8,
                ..small()
            },
            CorpusSpec {
                doc_len: 0,
                ..small()
            },
            CorpusSpec {
                common_mass: 1.0,
                ..small()
            },
        ] {
            assert!(spec.generate().is_err(), "{spec:?}");
        }
        // Without common mass there are no common words, and one topic is allowed.
        let c = CorpusSpec {
            common_mass: 0.0,
            n_topics: 1,
            ..small()
        }
        .generate()
        .unwrap();
        assert!(c.term_topic.iter().all(|t| *t == Some(0)));
    }
}
