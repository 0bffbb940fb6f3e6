"""When a data-plane run still going is claimed in etcd."""
from mr.config import Settings
from mr.engine.claiming import claim_after_s


def test_a_data_run_is_claimed_after_the_setting():
    assert claim_after_s(Settings(data_claim_after_s=30, stall_s=120)) == 30


def test_the_claim_comes_before_the_stall_sweep_would_publish_it_again():
    assert claim_after_s(Settings(data_claim_after_s=30, stall_s=20)) == 10
