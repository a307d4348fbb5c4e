/// A byte trie of key prefixes: the rules whose `prefix` a key starts with are found in one walk over the key's
/// bytes, whatever the number of prefixes.
struct PrefixTrie: Sendable {
    private struct Node: Sendable {
        /// Edge bytes, ascending; `children[i]` is the node reached by `bytes[i]`.
        var bytes: [UInt8] = []
        var children: [Int32] = []
        /// Rules with a prefix ending at this node, ascending.
        var rules: [Int32] = []
    }

    private var nodes: [Node] = [Node()]

    /// True when no prefix was inserted.
    var isEmpty: Bool { nodes.count == 1 && nodes[0].rules.isEmpty }

    mutating func insert(_ prefix: some Sequence<UInt8>, rule: Int32) {
        let node = node(for: prefix)
        if nodes[node].rules.last != rule { nodes[node].rules.append(rule) }
    }

    /// Calls `body` with the rule list of every prefix of `key` (shortest first); a rule may come more than once
    /// when several of its prefixes fit.
    func forEachRuleList(along key: UnsafeBufferPointer<UInt8>, _ body: ([Int32]) -> Void) {
        var node = 0
        var index = 0
        while true {
            if !nodes[node].rules.isEmpty { body(nodes[node].rules) }
            guard index < key.count, let next = child(of: node, byte: key[index]) else { return }
            node = next
            index += 1
        }
    }

    /// The total length of the lists `forEachRuleList` would pass, counted without visiting rules.
    func candidateCount(along key: UnsafeBufferPointer<UInt8>) -> Int {
        var count = 0
        forEachRuleList(along: key) { count += $0.count }
        return count
    }

    /// `forEachRuleList(along:)` for a trie of reversed texts (suffixes): walks `key` from its last byte.
    func forEachRuleList(alongReversed key: UnsafeBufferPointer<UInt8>, _ body: ([Int32]) -> Void) {
        var node = 0
        var index = key.count
        while true {
            if !nodes[node].rules.isEmpty { body(nodes[node].rules) }
            guard index > 0, let next = child(of: node, byte: key[index - 1]) else { return }
            node = next
            index -= 1
        }
    }

    /// The total length of the lists `forEachRuleList(alongReversed:)` would pass.
    func candidateCount(alongReversed key: UnsafeBufferPointer<UInt8>) -> Int {
        var count = 0
        forEachRuleList(alongReversed: key) { count += $0.count }
        return count
    }

    /// The number of nodes; node indices are below it (the root is 0).
    var nodeCount: Int { nodes.count }

    /// The node at the end of `prefix`, created (with the nodes before it) when missing. For a caller that files
    /// its own lists by node (`forEachNode(along:_:)`) rather than rule lists.
    mutating func node(for prefix: some Sequence<UInt8>) -> Int {
        var node = 0
        for byte in prefix {
            if let next = child(of: node, byte: byte) {
                node = next
                continue
            }
            let position = nodes[node].bytes.firstIndex { $0 > byte } ?? nodes[node].bytes.count
            nodes.append(Node())
            let created = nodes.count - 1
            nodes[node].bytes.insert(byte, at: position)
            nodes[node].children.insert(Int32(created), at: position)
            node = created
        }
        return node
    }

    /// Calls `body` with every node whose text is a prefix of `key` (the root first).
    func forEachNode(along key: UnsafeBufferPointer<UInt8>, _ body: (Int) -> Void) {
        var node = 0
        var index = 0
        while true {
            body(node)
            guard index < key.count, let next = child(of: node, byte: key[index]) else { return }
            node = next
            index += 1
        }
    }

    private func child(of node: Int, byte: UInt8) -> Int? {
        // In place: no copy (and no retain) of the node's arrays per step.
        nodes.withUnsafeBufferPointer { nodes -> Int? in
            nodes[node].bytes.withUnsafeBufferPointer { bytes -> Int? in
                var low = 0
                var high = bytes.count
                while low < high {
                    let mid = (low + high) / 2
                    if bytes[mid] < byte {
                        low = mid + 1
                    } else {
                        high = mid
                    }
                }
                guard low < bytes.count, bytes[low] == byte else { return nil }
                return Int(nodes[node].children[low])
            }
        }
    }
}
