"""What goes wrong talking to etcd, as the rest of the code sees it (no grpc types leak)."""


class EtcdUnavailable(RuntimeError):
    """etcd did not answer within the configured time."""


class EtcdSecurityError(EtcdUnavailable):
    """etcd refused our credentials, or the TLS/user settings cannot work; the text says which."""
