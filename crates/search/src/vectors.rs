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
/// Past [`THREE_STAGE`] vectors, where even the 8-bit scan takes tens of milliseconds, a pass
/// over one bit per dimension comes first (each vector's signs, a 32nd of the bytes, against
/// the query's values) and keeps the best [`SIGN_FRACTION`]th for the 8-bit pass. On 12,000
/// real passages of the MS C++ docs with 300 heading queries, keeping a 25th lost none of the
/// exact top 10 and 0.7% of the top 50 (keeping a 50th: 0.1% and 3.1%); counting differing
/// bits against the query's own signs instead lost 0.5% and 4.7% at a 25th.
#[derive(Default)]
pub struct BruteForce {
    dims: usize,
    ids: Vec<i64>,
    data: Vec<f32>,
    /// Each vector scaled to -127..=127 (`codes`) by its own factor (`scales`).
    codes: Vec<i8>,
    scales: Vec<f32>,
    /// Each vector's signs, one bit per dimension (set for positive), in `sign_bytes` bytes.
    signs: Vec<u8>,
    sign_bytes: usize,
    slot: HashMap<i64, usize>,
}

/// From this many vectors on, the first pass reads 8-bit codes.
pub const TWO_STAGE: usize = 50_000;
/// From this many vectors on, a pass over the signs comes before the 8-bit one.
pub const THREE_STAGE: usize = 200_000;
/// The part of the store (1 in this many) the sign pass keeps for the 8-bit pass, and the
/// fewest vectors it keeps.
pub const SIGN_FRACTION: usize = 25;
pub const SIGN_CANDIDATES: usize = 8_192;

impl BruteForce {
    pub fn new(dims: usize) -> BruteForce {
        BruteForce { dims, sign_bytes: dims.div_ceil(8), ..BruteForce::default() }
    }

    /// The indexes of the vectors whose signs agree best with the query: at least `keep` of
    /// them. A vector counts as its signs (+1 or -1 per dimension) against the query's values
    /// (12 bits each), a sum read from per-byte tables; every vector as good as the last one
    /// kept is kept too.
    fn alike_signs(&self, query: &[f32], keep: usize) -> Vec<usize> {
        let (n, nb) = (self.ids.len(), self.sign_bytes);
        // The query's values as integers up to 4,095, so a byte's eight sum to an i16.
        let max = query.iter().fold(0.0f32, |m, x| m.max(x.abs())).max(f32::MIN_POSITIVE);
        let q: Vec<i32> = query.iter().map(|x| (x / max * 4095.0).round() as i32).collect();
        // For each byte of a sign vector, by its value: the sum of the query's values whose
        // bits are set (the +1s; the -1s make up the rest of a constant total).
        let tables: Vec<[i16; 256]> = (0..nb)
            .map(|b| {
                let mut t = [0i16; 256];
                for v in 1..256usize {
                    let low = v.trailing_zeros() as usize;
                    let add = q.get(b * 8 + low).copied().unwrap_or(0);
                    t[v] = (i32::from(t[v & (v - 1)]) + add) as i16;
                }
                t
            })
            .collect();
        // Lower is better: 0 for a vector whose signs are the query's own.
        let high: i32 = q.iter().filter(|x| **x > 0).sum();
        let mut below = vec![0u32; n];
        let fill = |slice: &mut [u32], from: usize| {
            for (j, out) in slice.iter_mut().enumerate() {
                let at = (from + j) * nb;
                let bytes = &self.signs[at..at + nb];
                // all-MiniLM-L6-v2's 384 dimensions get a kernel compiled for their length.
                let sum = match (<&[u8; 48]>::try_from(bytes), <&[[i16; 256]; 48]>::try_from(tables.as_slice())) {
                    (Ok(bytes), Ok(tables)) => sign_sum(bytes, tables),
                    _ => bytes.iter().zip(&tables).map(|(b, t)| i32::from(t[usize::from(*b)])).sum(),
                };
                *out = high.saturating_sub(sum).max(0) as u32;
            }
        };
        let chunk = n.div_ceil(scan_threads()).max(1);
        std::thread::scope(|scope| {
            for (t, slice) in below.chunks_mut(chunk).enumerate() {
                let fill = &fill;
                scope.spawn(move || fill(slice, t * chunk));
            }
        });
        // The cut: the `keep`-th best, by a histogram of 65,536 ranges of the sums.
        let top = below.iter().copied().max().unwrap_or(0);
        let shift = (32 - top.leading_zeros()).saturating_sub(16);
        let mut histogram = vec![0u32; 1 << 16];
        for &b in &below {
            histogram[(b >> shift) as usize] += 1;
        }
        let mut kept = 0;
        let mut cut = u32::MAX;
        for (range, &many) in histogram.iter().enumerate() {
            kept += many as usize;
            if kept >= keep {
                cut = range as u32;
                break;
            }
        }
        below.iter().enumerate().filter(|(_, b)| (**b >> shift) <= cut).map(|(i, _)| i).collect()
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

    /// `top` over `0..n`, split across cores when there are many.
    fn scan<F: Fn(usize) -> f32 + Sync>(&self, n: usize, k: usize, score: &F) -> Vec<(usize, f32)> {
        let threads = scan_threads();
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

/// How many threads a pass over the store is split across.
fn scan_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |t| t.get()).min(4)
}

/// The sum of the query's values where a vector's sign bits are set, from per-byte tables.
fn sign_sum<const N: usize>(bytes: &[u8; N], tables: &[[i16; 256]; N]) -> i32 {
    let mut acc = [0i32; 4];
    for c in 0..N / 4 {
        for lane in 0..4 {
            acc[lane] += i32::from(tables[c * 4 + lane][usize::from(bytes[c * 4 + lane])]);
        }
    }
    let tail: i32 = (N / 4 * 4..N).map(|i| i32::from(tables[i][usize::from(bytes[i])])).sum();
    acc.iter().sum::<i32>() + tail
}

/// A vector's signs, one bit per dimension (set for positive), in `bytes` bytes.
fn signs(v: &[f32], bytes: usize) -> Vec<u8> {
    let mut out = vec![0u8; bytes];
    for (i, x) in v.iter().enumerate() {
        if *x > 0.0 {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
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
        let signs = signs(vector, self.sign_bytes);
        let w = self.sign_bytes;
        match self.slot.get(&id) {
            Some(&at) => {
                self.data[at * self.dims..(at + 1) * self.dims].copy_from_slice(vector);
                self.codes[at * self.dims..(at + 1) * self.dims].copy_from_slice(&codes);
                self.scales[at] = scale;
                self.signs[at * w..(at + 1) * w].copy_from_slice(&signs);
            }
            None => {
                self.slot.insert(id, self.ids.len());
                self.ids.push(id);
                self.data.extend_from_slice(vector);
                self.codes.extend_from_slice(&codes);
                self.scales.push(scale);
                self.signs.extend_from_slice(&signs);
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
            let w = self.sign_bytes;
            self.signs.copy_within(last * w..(last + 1) * w, at * w);
            self.slot.insert(moved, at);
        }
        self.ids.pop();
        self.data.truncate(last * d);
        self.codes.truncate(last * d);
        self.scales.pop();
        self.signs.truncate(last * self.sign_bytes);
    }

    fn nearest(&self, query: &[f32], k: usize) -> Vec<(i64, f32)> {
        self.nearest_by(query, k, self.passes())
    }
}

/// How a search reads the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Passes {
    /// Every vector exactly.
    Exact,
    /// Every vector's 8-bit codes, then the best candidates exactly.
    EightBit,
    /// Every vector's signs, keeping at least this many for the 8-bit pass, then exactly.
    Signs(usize),
}

impl BruteForce {
    /// The passes a store of this size is searched with.
    pub fn passes(&self) -> Passes {
        match self.ids.len() {
            n if n < TWO_STAGE => Passes::Exact,
            n if n < THREE_STAGE => Passes::EightBit,
            n => Passes::Signs((n / SIGN_FRACTION).max(SIGN_CANDIDATES)),
        }
    }

    /// [`VectorStore::nearest`] with the passes given (to compare them on real vectors).
    pub fn nearest_by(&self, query: &[f32], k: usize, passes: Passes) -> Vec<(i64, f32)> {
        if query.len() != self.dims || k == 0 || self.ids.is_empty() {
            return Vec::new();
        }
        let n = self.ids.len();
        let best = if passes == Passes::Exact {
            self.scan(n, k, &|i| self.exact(i, query))
        } else {
            let (q, q_scale) = quantise(query);
            let d = self.dims;
            // The models' sizes get a kernel compiled for their length (fully unrolled: twice as
            // fast as the same loop over a length known only at run time).
            let approx = |i: usize| {
                q_scale
                    * match d {
                        384 => self.approx_fixed::<384>(i, &q),
                        768 => self.approx_fixed::<768>(i, &q),
                        _ => dot_i8(&self.codes[i * d..(i + 1) * d], &q) as f32 * self.scales[i],
                    }
            };
            let keep = k * 4 + 64;
            let mut candidates = match passes {
                Passes::Signs(keep_signs) => {
                    let alike = self.alike_signs(query, keep_signs);
                    let best = self.scan(alike.len(), keep, &|j| approx(alike[j]));
                    best.into_iter().map(|(j, s)| (alike[j], s)).collect()
                }
                _ => self.scan(n, keep, &approx),
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
        let tables: Vec<[i16; 256]> = (0..48).map(|_| std::array::from_fn(|_| rng.i16(-4000..4000))).collect();
        let bytes: Vec<u8> = (0..48).map(|_| rng.u8(..)).collect();
        let general: i32 = bytes.iter().zip(&tables).map(|(b, t)| i32::from(t[usize::from(*b)])).sum();
        let fixed = sign_sum::<48>(bytes.as_slice().try_into().expect("48"), tables.as_slice().try_into().expect("48"));
        assert_eq!(fixed, general);
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

    /// Past THREE_STAGE vectors the sign pass comes first: the passages close to the query
    /// (paraphrases, about 0.8-0.95 alike) are still found, in their exact order, among
    /// unrelated ones.
    #[test]
    fn huge_stores_find_the_close_vectors_through_the_sign_pass() {
        let dims = 384;
        let mut rng = fastrand::Rng::with_seed(7);
        let random = |rng: &mut fastrand::Rng| unit(&(0..dims).map(|_| rng.f32() - 0.5).collect::<Vec<_>>());
        let query = random(&mut rng);
        let mut store = BruteForce::new(dims);
        let mut close = Vec::new();
        for id in 0..(THREE_STAGE as i64 + 5_000) {
            let v = if id % 10_000 == 0 {
                // Query plus noise of a varying strength.
                let noise = 0.3 + 0.5 * (id / 10_000) as f32 / 21.0;
                let v = unit(&query.iter().map(|x| x + noise * (rng.f32() - 0.5) / 8.0).collect::<Vec<_>>());
                close.push((id, dot(&v, &query)));
                v
            } else {
                random(&mut rng)
            };
            store.insert(id, &v);
        }
        close.sort_by(|a, b| b.1.total_cmp(&a.1));
        assert!(close[9].1 < 0.95 && close[9].1 > 0.5, "the planted vectors are close, not copies: {:?}", close[9]);
        let got = store.nearest(&query, 10);
        assert_eq!(got.iter().map(|x| x.0).collect::<Vec<_>>(), close[..10].iter().map(|x| x.0).collect::<Vec<_>>());
        assert!((got[0].1 - close[0].1).abs() < 1e-5, "scores are exact");
    }
}
