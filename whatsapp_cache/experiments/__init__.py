"""The course's experiments: what the lessons run on top of the core library; no core module imports them.

    workload, tour        a seeded day-in-the-life workload and the terminal tour built on it
    naive, races, faults  the seed's code as written; races replayed step by step; injected failures
    inspection, wire      Redis commands watched; round trips counted on the wire (both, and faults,
                          listen on instrument's one hook on redis-py's connections)
    chaos                 a workload through a Redis outage (fakeredis cut off, or a real redis-server killed)
    measure               real latencies per backend, and SQL over the request log in DuckDB
    loadmodel, capacity   the seed's latency, load, capacity and cost arithmetic beside exact models
    writes                writes write-behind can merge (not messages), and presence's database writes
"""
