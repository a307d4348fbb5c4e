extension EventDecoder {
    /// A member whose name an earlier member of the same object already has, and where it is.
    struct DuplicateMember {
        /// One step of the path from the checked value down to the repeated member.
        enum Step {
            case key(String)
            case index(Int)
        }

        /// From the checked value down to the repeated member (its own name last).
        var path: [Step]
        /// The repeated member's name as written.
        var name: String
        /// The earlier member's name as written: differs from `name` by letter case only, or not at all.
        var firstName: String

        /// The path relative to the checked value, as `Undecodable.field` spells it: `s3.object.key`,
        /// `s3.object.metadata[0].key`.
        var field: String {
            var out = ""
            for step in path {
                switch step {
                case .key(let key): out += out.isEmpty ? key : "." + key
                case .index(let index): out += "[\(index)]"
                }
            }
            return out
        }

        /// `duplicate member "key"` and why that is refused.
        var reason: String {
            let same =
                name == firstName ? "" : " (the same name as \(firstName.quotedForMessage) when letter case is ignored)"
            return "duplicate member \(name.quotedForMessage)\(same); the relay would route on the first value and "
                + "a receiver could read the other"
        }
    }

    /// Objects with at most this many members are checked pair by pair (no allocation); larger ones with a set.
    static let pairwiseDuplicateLimit = 16

    /// The first repeated member name in `value` or anywhere below it (objects in arrays included), in document
    /// order, each object checked before its members' values; nil when every object's names are distinct. The path
    /// is built only when a name repeats: a clean value costs no allocation.
    ///
    /// Names are compared as receivers compare them, and a little more strictly: Go's `encoding/json` (which MinIO's
    /// ecosystem uses) matches struct fields ignoring case, so `"key"` and `"KEY"` count as the same name. ASCII
    /// names are compared by folding ASCII letters; a non-ASCII name by its upper-then-lower-cased form, which also
    /// joins names Go's simple folding joins (`K` KELVIN SIGN and `k`). Two names that would differ for every
    /// receiver may then be refused together; two names that a receiver takes for one are never let through.
    static func duplicateMember(within value: JSONValue) -> DuplicateMember? {
        switch value.kind {
        case .object(let members):
            if let duplicate = duplicateMember(in: members) { return duplicate }
            for index in members.indices {
                switch members[index].value.kind {
                case .object, .array:
                    if var duplicate = duplicateMember(within: members[index].value) {
                        duplicate.path.insert(.key(members[index].key), at: 0)
                        return duplicate
                    }
                default:
                    continue
                }
            }
            return nil
        case .array(let elements):
            for index in elements.indices {
                switch elements[index].kind {
                case .object, .array:
                    if var duplicate = duplicateMember(within: elements[index]) {
                        duplicate.path.insert(.index(index), at: 0)
                        return duplicate
                    }
                default:
                    continue
                }
            }
            return nil
        default:
            return nil
        }
    }

    /// The first member of `members` whose name an earlier one has (see `duplicateMember(within:)` for how names
    /// are compared), with a one-step path (its name); nil when the names are distinct.
    static func duplicateMember(in members: [JSONMember]) -> DuplicateMember? {
        let count = members.count
        if count < 2 { return nil }
        if count <= pairwiseDuplicateLimit, members.indices.allSatisfy({ isASCII(members[$0].key) }) {
            for second in 1..<count {
                let name = members[second].key.utf8
                let length = name.count
                let last = ASCII.lowercased(name.last ?? 0)
                for first in 0..<second {
                    // Length and last letter first: most pairs differ there, and cost no walk over the names.
                    let other = members[first].key.utf8
                    guard other.count == length, ASCII.lowercased(other.last ?? 0) == last,
                        ASCII.equalsIgnoringCase(members[first].key, members[second].key)
                    else { continue }
                    return DuplicateMember(
                        path: [.key(members[second].key)],
                        name: members[second].key,
                        firstName: members[first].key
                    )
                }
            }
            return nil
        }
        var seen: [String: Int] = [:]
        seen.reserveCapacity(count)
        for (index, member) in members.enumerated() {
            if let first = seen.updateValue(index, forKey: foldedName(member.key)) {
                return DuplicateMember(path: [.key(member.key)], name: member.key, firstName: members[first].key)
            }
        }
        return nil
    }

    /// Whether `name` is ASCII only, read from its contiguous UTF-8 without a copy.
    private static func isASCII(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { bytes in bytes.allSatisfy { $0 < 0x80 } }
    }

    /// The form two names share when receivers may take them for one: ASCII letters lowered for an ASCII name,
    /// upper-cased then lower-cased otherwise.
    static func foldedName(_ name: String) -> String {
        if isASCII(name) { return name.lowercased() }
        return name.uppercased().lowercased()
    }
}
