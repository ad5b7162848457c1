// Synthetic sequence tasks whose relevant positions are known (docs/metrics.md, Relevance accuracy, relevance accuracy):
// every sample stores, in Dataset::relevant, the time steps that decide its label.
//
// Sample i of a task is drawn from its own generator, std::mt19937_64(sample_seed(seed, i,
// stream)), through the library-independent draws of lrp/core/random.hpp: it does not depend on
// `count` (a longer set starts with the samples of a shorter one) and is the same with every
// standard library. Both tasks set source (a description with every parameter), indices
// 0..count−1, value_min, value_max and the per-feature mean as the other loaders do. A parameter
// out of range is an lrp::Error naming it.
#pragma once

#include "lrp/io/data.hpp"

#include <cstdint>

namespace lrp {

// The random streams of the tasks (the third argument of sample_seed).
inline constexpr std::uint64_t kMarkedAdditionStream = 0x7365'7174'6173'6b01ULL;  // "seqtask" 1
inline constexpr std::uint64_t kLongRangeStream = 0x7365'7174'6173'6b02ULL;       // "seqtask" 2

// The adding problem with markers (Hochreiter & Schmidhuber 1997), as a two-class task. A sample
// has shape [T, 2] (T = steps ≥ 2): step t holds (v_t, m_t), a value v_t uniform in [0, 1) (rounded
// to the build's scalar type, kept below 1) and a marker m_t ∈ {0, 1}. Exactly two steps are
// marked, drawn uniformly without replacement. The label is 1 when the two marked values (as
// stored) sum to more than 1, else 0, so the classes are balanced in expectation. relevant = the
// two marked steps, sorted. Draw order per sample: v_0 .. v_{T−1}, then the first marked step
// a ~ U{0..T−1}, then b' ~ U{0..T−2} with b = b' + (b' ≥ a). count ≥ 1.
// Variable length (2 ≤ min_steps < steps; 0 or min_steps == steps: every sample has T steps):
// sample i first draws its length L ~ U{min_steps..steps}, then is drawn as above with L in place
// of T (v_0 .. v_{L−1}, the marked steps within 0..L−1); steps L..T−1 are zero padding and
// inputs.lengths holds every L.
Dataset marked_addition(Index count, Index steps, std::uint64_t seed, Index min_steps = 0);

// Long-range recall: token sequences of shape [T] (T = steps ≥ 2) holding token ids as numbers
// (for an embedding layer). Vocabulary of K + 1 + kLongRangeDistractors ids (K = symbols ≥ 2):
//   0 .. K−1           the class symbols,
//   K                  the start marker,
//   K+1 .. K+D         the distractors (D = kLongRangeDistractors = 4).
// A sequence is filled with distractors (each position i.i.d. uniform over the D ids); one position
// p ~ U{0..T−2} holds the start marker and position p+1 the class symbol c ~ U{0..K−1}. The label
// is c, relevant = {p+1} (the class token); class symbols and the marker appear nowhere else. Draw
// order per sample: p, c, then the distractors from left to right. count ≥ 1.
inline constexpr Index kLongRangeDistractors = 4;
inline constexpr Index long_range_vocabulary(Index symbols) { return symbols + 1 + kLongRangeDistractors; }
Dataset long_range(Index count, Index steps, Index symbols, std::uint64_t seed);

// One-hot encoding of token sequences, for models that read tokens directly (an LSTM without an
// embedding layer): samples [T] of token ids become [T, V] with x[t, v] = 1 when step t holds token
// v and 0 otherwise (V = vocabulary, for long_range long_range_vocabulary(K)). A step of all zeros
// is then "no token", so a fill of 0 (occlusion, deletion curves) removes tokens and gradient-based
// maps have one entry per (step, token). Labels, indices and the relevant steps carry over; source
// gets ", one-hot V" appended; value range and mean are recomputed. An error names the sample and the
// step of an id that is not a whole number in [0, V), and rejects samples that are not [T] or V < 1.
Dataset one_hot_tokens(const Dataset& tokens, Index vocabulary);

}  // namespace lrp
