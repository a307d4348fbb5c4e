/// Maps byte offsets of a file to 1-based line and column (columns in bytes, as `JSONSyntaxError` counts them).
struct LineIndex: Sendable {
    private let lineStarts: [Int]

    init(_ bytes: [UInt8]) {
        var starts = [0]
        for (offset, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            starts.append(offset + 1)
        }
        lineStarts = starts
    }

    func location(of offset: Int) -> (line: Int, column: Int) {
        var low = 0
        var high = lineStarts.count
        while high - low > 1 {
            let mid = (low + high) / 2
            if lineStarts[mid] <= offset {
                low = mid
            } else {
                high = mid
            }
        }
        return (low + 1, offset - lineStarts[low] + 1)
    }
}
