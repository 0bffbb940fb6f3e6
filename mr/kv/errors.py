"""What goes wrong talking to etcd, as the rest of the code sees it (no grpc types leak)."""


class EtcdUnavailable(RuntimeError):
    """etcd did not answer within the configured time."""


class EtcdSecurityError(EtcdUnavailable):
    """etcd refused our credentials, or the TLS/user settings cannot work; the text says which."""


class EtcdNoSpace(EtcdUnavailable):
    """etcd is at its space quota (its NOSPACE alarm): it takes no writes until an operator
    frees space and clears the alarm. Callers treat it as etcd being away: retry later."""
