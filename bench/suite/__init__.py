"""matcache's benchmark suite: every figure of the README's performance
section, measured side by side in one run against the alternatives a user
would otherwise pick, plus a load test. Run it with `bench/run` (see
`bench/run --help`); `python3 -m suite` is the same without the dependency
check.

Modules, one concern each:
    scale        sizes and repetitions of --smoke, --quick and a full run
    samples      Measurement: repeated values of one quantity, and timing
    servers      matcached, redis-server and a huge-page tmpfs, each
                 started for the run and always cleaned up
    shm_hack     the multiprocessing.shared_memory hack of docs/architecture.md §1
    resp         a minimal Redis client that reads into numpy buffers
    environment  all of those for one run, torn down together
    memory       a process's resident memory, sampled over time
    machine      a one-line description of the machine
    peers        every way to store a matrix and get it back
    put_get      put and get (time to a usable array) of every peer
    fresh_pass   the first full pass over a fresh get in a new process
    remote       streamed reads: full reads, windows, previews, slow reader
    round_trip   Info round trips
    load_test    many dashboard processes (load_worker) against one server
    targets      the performance targets, each met or not met
    report       report.md; plots: the PNG figures
"""
