"""MR_ETCD_HOSTS entries as one gRPC target: names are resolved so several members fail over."""
from mr.kv.hosts import grpc_target, split


def test_one_host_is_left_to_grpc():
    assert grpc_target(["etcd.example:2379"]) == ("etcd.example:2379", None)


def test_addresses_and_names_become_one_multi_address_target():
    assert grpc_target(["127.0.0.1:2379", "127.0.0.1:2380"]) == (
        "ipv4:127.0.0.1:2379,127.0.0.1:2380", None)
    assert grpc_target(["localhost:2379", "localhost:2380"]) == (
        "ipv4:127.0.0.1:2379,127.0.0.1:2380", "localhost")  # certificates name the host
    assert grpc_target(["[::1]:2379", "[::1]:2380"]) == ("ipv6:[::1]:2379,[::1]:2380", None)


def test_a_name_that_does_not_resolve_is_left_out():
    assert grpc_target(["nowhere.invalid:2379", "localhost:2380"]) == (
        "ipv4:127.0.0.1:2380", "localhost")
    assert grpc_target(["nowhere.invalid:1", "nor.invalid:2"]) == ("nowhere.invalid:1", None)


def test_split():
    assert split("etcd1:2379") == ("etcd1", "2379")
    assert split("etcd1") == ("etcd1", "2379")
    assert split("[fe80::1]:2380") == ("fe80::1", "2380")
    assert split("[::1]") == ("::1", "2379")
