/**
 * The largest gRPC message either end of a channel sends or accepts (8 MiB): one number for
 * clients and servers, since a limit only one side has fails calls on the other.
 */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
