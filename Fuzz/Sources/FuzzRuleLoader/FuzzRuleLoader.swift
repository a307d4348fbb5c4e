import RelayCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONDifferential(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? JSONParser.parse(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
