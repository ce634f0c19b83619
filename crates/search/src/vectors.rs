//! Nearest-neighbour search over passage vectors. [`VectorStore`] is the seam an approximate
//! index (HNSW and friends) can replace; [`BruteForce`] is exact cosine similarity over every
//! vector, which is fast enough below a few hundred thousand passages.

use std::collections::HashMap;

/// Vectors by passage id, and the ones nearest a query.
pub trait VectorStore {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Adds or replaces the vector of a passage (unit length).
    fn insert(&mut self, id: i64, vector: &[f32]);
    fn remove(&mut self, id: i64);
    /// The `k` passages most similar to `query` (unit length), most similar first.
    fn nearest(&self, query: &[f32], k: usize) -> Vec<(i64, f32)>;
}

/// Every vector in one contiguous array; a query is one pass of dot products.
#[derive(Default)]
pub struct BruteForce {
    dims: usize,
    ids: Vec<i64>,
    data: Vec<f32>,
    slot: HashMap<i64, usize>,
}

impl BruteForce {
    pub fn new(dims: usize) -> BruteForce {
        BruteForce { dims, ..BruteForce::default() }
    }
}

impl VectorStore for BruteForce {
    fn len(&self) -> usize {
        self.ids.len()
    }

    fn insert(&mut self, id: i64, vector: &[f32]) {
        if vector.len() != self.dims {
            return;
        }
        match self.slot.get(&id) {
            Some(&at) => self.data[at * self.dims..(at + 1) * self.dims].copy_from_slice(vector),
            None => {
                self.slot.insert(id, self.ids.len());
                self.ids.push(id);
                self.data.extend_from_slice(vector);
            }
        }
    }

    fn remove(&mut self, id: i64) {
        let Some(at) = self.slot.remove(&id) else { return };
        let last = self.ids.len() - 1;
        if at != last {
            // Move the last vector into the hole.
            let moved = self.ids[last];
            self.ids[at] = moved;
            let (head, tail) = self.data.split_at_mut(last * self.dims);
            head[at * self.dims..(at + 1) * self.dims].copy_from_slice(&tail[..self.dims]);
            self.slot.insert(moved, at);
        }
        self.ids.pop();
        self.data.truncate(last * self.dims);
    }

    fn nearest(&self, query: &[f32], k: usize) -> Vec<(i64, f32)> {
        if query.len() != self.dims || k == 0 || self.ids.is_empty() {
            return Vec::new();
        }
        let scores = |range: std::ops::Range<usize>| -> Vec<(i64, f32)> {
            let mut best: Vec<(i64, f32)> = Vec::with_capacity(k + 1);
            let mut floor = f32::NEG_INFINITY;
            for i in range {
                let score = dot(&self.data[i * self.dims..(i + 1) * self.dims], query);
                if best.len() < k || score > floor {
                    let at = best.partition_point(|(_, s)| *s >= score);
                    best.insert(at, (self.ids[i], score));
                    best.truncate(k);
                    if best.len() == k {
                        floor = best[k - 1].1;
                    }
                }
            }
            best
        };
        let n = self.ids.len();
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(4);
        // Split large stores across cores; small ones are not worth a thread.
        let mut merged = if n < 20_000 || threads < 2 {
            scores(0..n)
        } else {
            let chunk = n.div_ceil(threads);
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let range = t * chunk..((t + 1) * chunk).min(n);
                        scope.spawn(move || scores(range))
                    })
                    .collect();
                handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
            })
        };
        merged.sort_by(|a, b| b.1.total_cmp(&a.1));
        merged.truncate(k);
        merged
    }
}

/// A dot product the compiler turns into SIMD: eight independent sums (a single running sum
/// would have to be added in order, one lane at a time).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (a8.remainder(), b8.remainder());
    for (x, y) in a8.zip(b8) {
        for lane in 0..8 {
            acc[lane] += x[lane] * y[lane];
        }
    }
    acc.iter().sum::<f32>() + ra.iter().zip(rb).map(|(x, y)| x * y).sum::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(values: &[f32]) -> Vec<f32> {
        let mut v = values.to_vec();
        crate::embed::normalise(&mut v);
        v
    }

    #[test]
    fn finds_the_nearest_and_forgets_removed_vectors() {
        let mut store = BruteForce::new(3);
        store.insert(1, &unit(&[1.0, 0.0, 0.0]));
        store.insert(2, &unit(&[0.0, 1.0, 0.0]));
        store.insert(3, &unit(&[1.0, 1.0, 0.0]));
        store.insert(4, &[1.0, 2.0]); // wrong length: ignored
        assert_eq!(store.len(), 3);
        let near: Vec<i64> = store.nearest(&unit(&[1.0, 0.1, 0.0]), 2).into_iter().map(|(id, _)| id).collect();
        assert_eq!(near, [1, 3]);
        store.remove(1);
        store.insert(3, &unit(&[0.0, 0.0, 1.0]));
        let near: Vec<i64> = store.nearest(&unit(&[1.0, 0.1, 0.0]), 5).into_iter().map(|(id, _)| id).collect();
        assert_eq!(near, [2, 3]);
        assert!(store.nearest(&[1.0], 3).is_empty());
    }

    #[test]
    fn large_stores_split_across_threads_give_the_same_answer() {
        let dims = 8;
        let mut store = BruteForce::new(dims);
        let mut rng = 42u64;
        let mut next = || {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((rng >> 33) as f32 / u32::MAX as f32) - 0.25
        };
        let mut all = Vec::new();
        for id in 0..50_000 {
            let v = unit(&(0..dims).map(|_| next()).collect::<Vec<_>>());
            store.insert(id, &v);
            all.push((id, v));
        }
        let query = unit(&(0..dims).map(|_| next()).collect::<Vec<_>>());
        let mut expected: Vec<(i64, f32)> =
            all.iter().map(|(id, v)| (*id, v.iter().zip(&query).map(|(a, b)| a * b).sum())).collect();
        expected.sort_by(|a, b| b.1.total_cmp(&a.1));
        let got = store.nearest(&query, 10);
        assert_eq!(got.iter().map(|x| x.0).collect::<Vec<_>>(), expected[..10].iter().map(|x| x.0).collect::<Vec<_>>());
    }
}
