"""EchoNest: a collaborative music queue — shared queue, individual playback."""
