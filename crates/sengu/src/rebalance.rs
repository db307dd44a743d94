//! sentinel-rebalance: keeps the spare ("floating") sentinel on the host that does not run the
//! Redis master, moving its identity between the two hosts so the sentinels' known count stays 3.
