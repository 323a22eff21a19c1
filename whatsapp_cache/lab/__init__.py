"""The local lab: real redis-server processes on free loopback ports, for what fakeredis cannot show.

    process        one redis-server: started on a free port, waited for, stopped by its own pid
    cluster        a Redis Cluster, or a master with replicas and Sentinel, and `cluster up|status|down`
    replication    replica reads, lag, a stale read, acknowledged writes lost on failover (with and without WAIT)
    distribution   how keys, memory and load spread over a cluster's masters
    stored         the lab's results stored for machines without redis-server
"""
