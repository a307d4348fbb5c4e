import RelayLog

/// The errors of the spool and the dead-letter file are the delivery log's (see ``DeliveryLogError``).
public typealias SpoolError = DeliveryLogError
