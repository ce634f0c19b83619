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

/// Every vector in one contiguous array. Small stores are scanned exactly. Large ones (past
/// [`TWO_STAGE`] vectors, where the scan is memory-bound) are scanned first in 8-bit form, a
/// quarter of the bytes, and the best candidates (four times as many as asked for) are then
/// scored exactly from the full vectors, so the answer is the exact ranking of those candidates.
#[derive(Default)]
pub struct BruteForce {
    dims: usize,
    ids: Vec<i64>,
    data: Vec<f32>,
    /// Each vector scaled to -127..=127 (`codes`) by its own factor (`scales`).
    codes: Vec<i8>,
    scales: Vec<f32>,
    slot: HashMap<i64, usize>,
}

/// From this many vectors on, the first pass reads 8-bit codes.
pub const TWO_STAGE: usize = 50_000;

impl BruteForce {
    pub fn new(dims: usize) -> BruteForce {
        BruteForce { dims, ..BruteForce::default() }
    }

    fn exact(&self, i: usize, query: &[f32]) -> f32 {
        dot(&self.data[i * self.dims..(i + 1) * self.dims], query)
    }

    /// The `k` best of `range` by `score`, best first (a min-heap of the best so far).
    fn top(range: std::ops::Range<usize>, k: usize, score: impl Fn(usize) -> f32) -> Vec<(usize, f32)> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        #[derive(PartialEq)]
        struct Scored(f32, usize);
        impl Eq for Scored {}
        impl PartialOrd for Scored {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for Scored {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
            }
        }
        let mut heap: BinaryHeap<Reverse<Scored>> = BinaryHeap::with_capacity(k + 1);
        for i in range {
            let s = score(i);
            if heap.len() < k {
                heap.push(Reverse(Scored(s, i)));
            } else if heap.peek().is_some_and(|Reverse(low)| s > low.0) {
                heap.pop();
                heap.push(Reverse(Scored(s, i)));
            }
        }
        let mut best: Vec<(usize, f32)> = heap.into_iter().map(|Reverse(Scored(s, i))| (i, s)).collect();
        best.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        best
    }

    /// `top` over all vectors, split across cores when there are many.
    fn scan(&self, k: usize, score: &(dyn Fn(usize) -> f32 + Sync)) -> Vec<(usize, f32)> {
        let n = self.ids.len();
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(4);
        let mut merged = if n < 20_000 || threads < 2 {
            Self::top(0..n, k, score)
        } else {
            let chunk = n.div_ceil(threads);
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let range = t * chunk..((t + 1) * chunk).min(n);
                        scope.spawn(move || Self::top(range, k, score))
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

/// A vector as 8-bit codes and the factor that scales them back.
fn quantise(v: &[f32]) -> (Vec<i8>, f32) {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max == 0.0 {
        return (vec![0; v.len()], 0.0);
    }
    let scale = max / 127.0;
    (v.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8).collect(), scale)
}

impl VectorStore for BruteForce {
    fn len(&self) -> usize {
        self.ids.len()
    }

    fn insert(&mut self, id: i64, vector: &[f32]) {
        if vector.len() != self.dims {
            return;
        }
        let (codes, scale) = quantise(vector);
        match self.slot.get(&id) {
            Some(&at) => {
                self.data[at * self.dims..(at + 1) * self.dims].copy_from_slice(vector);
                self.codes[at * self.dims..(at + 1) * self.dims].copy_from_slice(&codes);
                self.scales[at] = scale;
            }
            None => {
                self.slot.insert(id, self.ids.len());
                self.ids.push(id);
                self.data.extend_from_slice(vector);
                self.codes.extend_from_slice(&codes);
                self.scales.push(scale);
            }
        }
    }

    fn remove(&mut self, id: i64) {
        let Some(at) = self.slot.remove(&id) else { return };
        let last = self.ids.len() - 1;
        let d = self.dims;
        if at != last {
            // Move the last vector into the hole.
            let moved = self.ids[last];
            self.ids[at] = moved;
            self.data.copy_within(last * d..(last + 1) * d, at * d);
            self.codes.copy_within(last * d..(last + 1) * d, at * d);
            self.scales[at] = self.scales[last];
            self.slot.insert(moved, at);
        }
        self.ids.pop();
        self.data.truncate(last * d);
        self.codes.truncate(last * d);
        self.scales.pop();
    }

    fn nearest(&self, query: &[f32], k: usize) -> Vec<(i64, f32)> {
        if query.len() != self.dims || k == 0 || self.ids.is_empty() {
            return Vec::new();
        }
        let best = if self.ids.len() < TWO_STAGE {
            self.scan(k, &|i| self.exact(i, query))
        } else {
            let (q, q_scale) = quantise(query);
            let d = self.dims;
            // The models' sizes get a kernel compiled for their length (fully unrolled: twice as
            // fast as the same loop over a length known only at run time).
            let mut candidates = match d {
                384 => self.scan(k * 4 + 64, &|i| self.approx_fixed::<384>(i, &q) * q_scale),
                768 => self.scan(k * 4 + 64, &|i| self.approx_fixed::<768>(i, &q) * q_scale),
                _ => self.scan(k * 4 + 64, &|i| {
                    dot_i8(&self.codes[i * d..(i + 1) * d], &q) as f32 * self.scales[i] * q_scale
                }),
            };
            for c in &mut candidates {
                c.1 = self.exact(c.0, query);
            }
            candidates.sort_by(|a, b| b.1.total_cmp(&a.1));
            candidates.truncate(k);
            candidates
        };
        best.into_iter().map(|(i, s)| (self.ids[i], s)).collect()
    }
}

impl BruteForce {
    /// The 8-bit estimate of vector `i` against `q` (unscaled by the query), for `N` dimensions.
    fn approx_fixed<const N: usize>(&self, i: usize, q: &[i8]) -> f32 {
        let (Ok(a), Ok(b)) = (<&[i8; N]>::try_from(&self.codes[i * N..(i + 1) * N]), <&[i8; N]>::try_from(q)) else {
            return f32::NEG_INFINITY;
        };
        dot_i8_fixed(a, b) as f32 * self.scales[i]
    }
}

/// [`dot_i8`] for a length known when compiling.
fn dot_i8_fixed<const N: usize>(a: &[i8; N], b: &[i8; N]) -> i32 {
    let mut acc = [0i32; 16];
    for chunk in 0..N / 16 {
        for lane in 0..16 {
            acc[lane] += i32::from(a[chunk * 16 + lane]) * i32::from(b[chunk * 16 + lane]);
        }
    }
    let tail: i32 = (N / 16 * 16..N).map(|j| i32::from(a[j]) * i32::from(b[j])).sum();
    acc.iter().sum::<i32>() + tail
}

/// The dot product of 8-bit codes, in 32-bit sums the compiler vectorises.
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    let (a16, b16) = (a.chunks_exact(16), b.chunks_exact(16));
    let (ra, rb) = (a16.remainder(), b16.remainder());
    for (x, y) in a16.zip(b16) {
        for lane in 0..16 {
            acc[lane] += i32::from(x[lane]) * i32::from(y[lane]);
        }
    }
    acc.iter().sum::<i32>() + ra.iter().zip(rb).map(|(x, y)| i32::from(*x) * i32::from(*y)).sum::<i32>()
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

    #[test]
    fn fixed_length_kernels_agree_with_the_general_one() {
        let mut rng = fastrand::Rng::with_seed(3);
        let a: Vec<i8> = (0..384).map(|_| rng.i8(-127..=127)).collect();
        let b: Vec<i8> = (0..384).map(|_| rng.i8(-127..=127)).collect();
        let (fa, fb): (&[i8; 384], &[i8; 384]) =
            (a.as_slice().try_into().expect("384"), b.as_slice().try_into().expect("384"));
        assert_eq!(dot_i8_fixed(fa, fb), dot_i8(&a, &b));
    }

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

    /// For a general length and for a length with its own kernel (all-MiniLM-L6-v2's 384).
    #[test]
    fn large_stores_scanned_in_two_stages_give_the_exact_answer() {
        for dims in [8, 384] {
            two_stages_are_exact(dims);
        }
    }

    fn two_stages_are_exact(dims: usize) {
        let mut store = BruteForce::new(dims);
        let mut rng = 42u64;
        let mut next = || {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((rng >> 33) as f32 / u32::MAX as f32) - 0.25
        };
        let mut all = Vec::new();
        for id in 0..(TWO_STAGE as i64 + 10_000) {
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
        assert!((got[0].1 - expected[0].1).abs() < 1e-5, "scores are exact");
        store.remove(expected[0].0);
        assert_eq!(store.nearest(&query, 1)[0].0, expected[1].0);
    }
}
