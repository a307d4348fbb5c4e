import CCurl
import RelayCore

/// One request in flight through a ``CurlDriver``: the request, its continuation and the response buffers.
///
/// Ownership moves in one direction: the submitting task builds it and hands it to the driver through the inbox;
/// from then on only the driver thread reads or writes it (libcurl calls the callbacks below on that thread).
final class Transfer: @unchecked Sendable {
    let id: UInt64
    let request: HTTPRequest
    /// The `HTTPHEADER` list; libcurl borrows it until the transfer is done. Freed in `deinit`.
    let headerList: UnsafeMutablePointer<curl_slist>?
    let maxBodyBytes: Int
    let maxHeaders: Int
    var continuation: CheckedContinuation<HTTPResponse, any Error>?
    var easy: EasyHandle?
    var readOffset = 0
    var responseBody: [UInt8] = []
    var responseHeaders: [(name: String, value: String)] = []
    var isBodyTruncated = false

    init(
        id: UInt64,
        request: HTTPRequest,
        headerList: UnsafeMutablePointer<curl_slist>?,
        configuration: CurlClientConfiguration
    ) {
        self.id = id
        self.request = request
        self.headerList = headerList
        self.maxBodyBytes = max(0, configuration.maxResponseBodyBytes)
        self.maxHeaders = max(0, configuration.maxResponseHeaders)
    }

    deinit {
        curl_slist_free_all(headerList)
    }

    /// Resumes the waiting task once; later calls do nothing.
    func complete(_ result: Result<HTTPResponse, any Error>) {
        guard let continuation else { return }
        self.continuation = nil
        continuation.resume(with: result)
    }

    /// Builds the `HTTPHEADER` list: the caller's fields, plus `Expect:` (never wait for `100 Continue`) and
    /// `Content-Type:` (suppress libcurl's form type) unless the caller gave them.
    /// - Throws: ``TransportError`` with code `invalidRequest` for a bad method or header field.
    static func makeHeaderList(for request: HTTPRequest) throws(TransportError) -> UnsafeMutablePointer<curl_slist>? {
        guard ASCII.isToken(request.method) else {
            throw TransportError(
                code: .invalidRequest,
                message: "HTTP method \"\(request.method)\" is not a token; use a method such as POST or GET"
            )
        }
        var list: UnsafeMutablePointer<curl_slist>?
        var hasExpect = false
        var hasContentType = false
        for field in request.headers {
            guard ASCII.isToken(field.name), field.value.utf8.allSatisfy({ $0 != 0x0D && $0 != 0x0A && $0 != 0 }) else {
                curl_slist_free_all(list)
                throw TransportError(
                    code: .invalidRequest,
                    message:
                        "header \"\(field.name)\" has an invalid name or a CR, LF or NUL in its value; fix the header"
                )
            }
            if ASCII.equalsIgnoringCase(field.name, "Expect") { hasExpect = true }
            if ASCII.equalsIgnoringCase(field.name, "Content-Type") { hasContentType = true }
            // "Name;" is libcurl's spelling of a field with an empty value ("Name:" would remove the field).
            let line = field.value.isEmpty ? field.name + ";" : field.name + ": " + field.value
            guard let appended = curl_slist_append(list, line) else {
                curl_slist_free_all(list)
                throw TransportError(code: .other, message: "out of memory building the header list")
            }
            list = appended
        }
        for line in [hasExpect ? nil : "Expect:", hasContentType ? nil : "Content-Type:"] {
            guard let line else { continue }
            guard let appended = curl_slist_append(list, line) else {
                curl_slist_free_all(list)
                throw TransportError(code: .other, message: "out of memory building the header list")
            }
            list = appended
        }
        return list
    }

    // MARK: libcurl callbacks (C function pointers: no captures; the context is an unretained `Transfer`)

    /// `CURLOPT_WRITEFUNCTION`: keeps up to `maxBodyBytes`, drops (and flags) the rest.
    static let writeCallback: curl_write_callback = { pointer, size, count, context in
        let total = size * count
        guard let pointer, let context else { return total }
        let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
        let room = transfer.maxBodyBytes - transfer.responseBody.count
        let kept = min(room, total)
        if kept < total { transfer.isBodyTruncated = true }
        if kept > 0 {
            pointer.withMemoryRebound(to: UInt8.self, capacity: kept) {
                transfer.responseBody.append(contentsOf: UnsafeBufferPointer(start: $0, count: kept))
            }
        }
        return total
    }

    /// `CURLOPT_HEADERFUNCTION`: one call per header line; a status line starts a new response (after a
    /// `100 Continue` or an interim response), so the fields collected so far are dropped.
    static let headerCallback: curl_write_callback = { pointer, size, count, context in
        let total = size * count
        guard let pointer, let context else { return total }
        let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
        pointer.withMemoryRebound(to: UInt8.self, capacity: total) {
            transfer.addHeaderLine(UnsafeBufferPointer(start: $0, count: total))
        }
        return total
    }

    /// `CURLOPT_READFUNCTION`: copies the next part of the request body.
    static let readCallback: curl_read_callback = { buffer, size, count, context in
        guard let buffer, let context else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
        let remaining = transfer.request.body.count - transfer.readOffset
        let length = min(size * count, remaining)
        guard length > 0 else { return 0 }
        transfer.request.body.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            UnsafeMutableRawPointer(buffer).copyMemory(from: base + transfer.readOffset, byteCount: length)
        }
        transfer.readOffset += length
        return length
    }

    /// `CURLOPT_SEEKFUNCTION`: lets libcurl rewind the body when it resends on a fresh connection.
    static let seekCallback: curl_seek_callback = { context, offset, origin in
        guard let context else { return Int32(CURL_SEEKFUNC_FAIL) }
        let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
        let base: Int
        switch origin {
        case 0: base = 0  // SEEK_SET, the only origin libcurl uses
        case 1: base = transfer.readOffset  // SEEK_CUR
        case 2: base = transfer.request.body.count  // SEEK_END
        default: return Int32(CURL_SEEKFUNC_CANTSEEK)
        }
        let target = base + Int(offset)
        guard target >= 0, target <= transfer.request.body.count else { return Int32(CURL_SEEKFUNC_FAIL) }
        transfer.readOffset = target
        return Int32(CURL_SEEKFUNC_OK)
    }

    private func addHeaderLine(_ line: UnsafeBufferPointer<UInt8>) {
        var end = line.count
        while end > 0, line[end - 1] == 0x0A || line[end - 1] == 0x0D { end -= 1 }
        guard end > 0 else { return }
        if end >= 5, line[0] == UInt8(ascii: "H"), line[1] == UInt8(ascii: "T"), line[2] == UInt8(ascii: "T"),
            line[3] == UInt8(ascii: "P"), line[4] == UInt8(ascii: "/")
        {
            responseHeaders.removeAll(keepingCapacity: true)
            return
        }
        guard responseHeaders.count < maxHeaders,
            let colon = line[..<end].firstIndex(of: UInt8(ascii: ":"))
        else { return }
        var valueStart = colon + 1
        while valueStart < end, line[valueStart] == 0x20 || line[valueStart] == 0x09 { valueStart += 1 }
        var valueEnd = end
        while valueEnd > valueStart, line[valueEnd - 1] == 0x20 || line[valueEnd - 1] == 0x09 { valueEnd -= 1 }
        let name = String(decoding: UnsafeBufferPointer(rebasing: line[..<colon]), as: UTF8.self)
        let value = String(decoding: UnsafeBufferPointer(rebasing: line[valueStart..<valueEnd]), as: UTF8.self)
        responseHeaders.append((name: name, value: value))
    }
}

/// A pooled libcurl easy handle and its `CURLOPT_ERRORBUFFER` (`CURL_ERROR_SIZE` bytes), owned by the driver.
struct EasyHandle {
    let handle: UnsafeMutableRawPointer
    let errorBuffer: UnsafeMutablePointer<CChar>
}
