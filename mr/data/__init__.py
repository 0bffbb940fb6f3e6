"""The data plane (DESIGN.md §3b): input splits, the partitioned shuffle and part-file results
live on the workflow's shared filesystem; etcd and NSQ carry only references to them."""
