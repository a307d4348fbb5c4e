/// The body a target receives: the payload format of `PayloadBuilder` (`minio`, `records`, `cloudevents`).
public typealias TargetFormat = PayloadFormat
