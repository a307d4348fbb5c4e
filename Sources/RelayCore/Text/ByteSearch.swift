#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Finding a short marker in a body without a byte-by-byte loop in Swift: `memchr` (SIMD in the C library) for one
/// rare byte of the marker, then a compare of the whole marker around each hit.
enum ByteSearch {
    /// Whether `haystack` contains `needle`.
    /// - Parameter anchor: the index in `needle` of the byte `memchr` looks for: pick the byte least frequent in the
    ///   bodies searched (for a quoted JSON key, its first letter, often a capital).
    static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8], anchor: Int) -> Bool {
        guard let base = haystack.baseAddress, anchor >= 0, anchor < needle.count, haystack.count >= needle.count
        else { return false }
        let byte = Int32(needle[anchor])
        // The anchor's offset in the haystack runs from `anchor` to `count - needle.count + anchor`.
        var offset = anchor
        let end = haystack.count - needle.count + anchor + 1
        while offset < end {
            guard let found = memchr(base + offset, byte, end - offset) else { return false }
            let at = base.distance(to: UnsafeRawPointer(found))
            let start = at - anchor
            if memcmp(base + start, needle, needle.count) == 0 { return true }
            offset = at + 1
        }
        return false
    }

    /// Whether `haystack` contains `needle` (see ``contains(_:_:anchor:)-(UnsafeRawBufferPointer,_,_)``).
    static func contains(_ haystack: [UInt8], _ needle: [UInt8], anchor: Int) -> Bool {
        haystack.withUnsafeBytes { contains($0, needle, anchor: anchor) }
    }
}
