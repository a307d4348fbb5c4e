/// "Did you mean" for names: the closest candidate by edit distance (with transpositions), ignoring case.
enum Suggestion {
    /// The candidate closest to `name`, if it is close enough to be a likely typo: at most one edit for short
    /// names, up to four for long ones. Ties go to the earlier candidate.
    static func closest(to name: String, among candidates: some Sequence<String>) -> String? {
        let target = Array(name.lowercased().unicodeScalars)
        let limit = max(1, min(4, target.count / 3))
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(target, Array(candidate.lowercased().unicodeScalars))
            if distance <= limit, distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }

    /// Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions.
    static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    value = min(value, previous2[j - 2] + 1)
                }
                current[j] = value
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }

    /// `; did you mean "x"?`, or `; expected one of "a", "b"` when nothing is close (and the list is short).
    static func hint(for name: String, among candidates: [String]) -> String {
        if let match = closest(to: name, among: candidates) {
            return "; did you mean \(match.quotedForMessage)?"
        }
        if candidates.count <= 12 {
            return "; expected one of " + candidates.map(\.quotedForMessage).joined(separator: ", ")
        }
        return ""
    }
}
