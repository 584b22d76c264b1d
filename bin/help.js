'use strict'
// The texts of `shmem --help` and `shmem COMMAND --help` (bin/shmem.js prints them).

module.exports = {
  main: `Usage: shmem <command> [options]

See and clean up shared memory: POSIX objects (/dev/shm) and System V segments.

Commands:
  ls [--json] [--all]             list segments (yours; --all: every user's)
  stat NAME | --sysv KEY|ID [--json]  show one segment (and the SharedMap in it)
  rm NAME... | --sysv KEY|ID...   remove segments by name, or System V segments by key or id
  gc [--dry-run] [--json]         remove segments made with autoUnlink whose creator died

Options:
  -h, --help       show this help; 'shmem COMMAND --help' shows a command's
  -v, --version    print the version

Exit status: 0 done, 1 something could not be done, 2 bad command line.`,

  ls: `Usage: shmem ls [--json] [--all]

Lists POSIX shared memory objects and System V segments, POSIX first.

Columns: KIND (posix or sysv), NAME (a POSIX name, or a System V key in hex), ID (System V
id), SIZE, MODE, UID, NATTCH (System V attachments), CPID and LPID (System V creator and
last pids), CREATOR (the pid recorded by shmem for autoUnlink segments, and whether it is
alive), AGE.

Options:
  --all     include the segments of other users (default: only the current user's)
  --json    print a JSON array of list() entries instead of a table
  -h, --help`,

  stat: `Usage: shmem stat NAME [--json]
       shmem stat --sysv KEY|ID [--json]

Shows one POSIX object by name ('x' and '/x' are the same), or one System V segment by key
(0x and hex digits, as the NAME column of 'shmem ls' shows it) or by id (a decimal number,
the ID column).

When the POSIX object holds a SharedMap (and you may open it read-write), the map's figures
follow: entries, key and value bytes, hit rate (hits and misses each process has flushed:
processes add theirs in batches of 64 and when they close the map), evictions, expirations
and recoveries (writers that died holding the lock, whose work the next writer repaired).

Options:
  --sysv    the argument is a System V key (0x...) or id (decimal)
  --json    print the list() entry as JSON (with "map": {...} when it holds a SharedMap)
  -h, --help`,

  rm: `Usage: shmem rm NAME...
       shmem rm --sysv KEY|ID...

Removes POSIX objects by name (shm_unlink), or System V segments by key (0x and hex digits,
as 'shmem ls' shows it) or by id (a decimal number) (IPC_RMID: the
segment goes when its last process detaches). Processes that have a segment mapped keep
their mapping. Exit status 1 if any could not be removed; each failure is named on stderr.

Options:
  --sysv    the arguments are System V keys (0x...) or ids (decimal)
  -h, --help`,

  gc: `Usage: shmem gc [--dry-run] [--json]

Removes the segments that shmem created with autoUnlink whose creator process is dead
(killed with SIGKILL, or crashed before it could remove them), according to the creator
records of the current user. Touches nothing else: not the segments of live processes, not
segments made without autoUnlink or by other programs.

Options:
  --dry-run  only list what would be removed
  --json     print a JSON array instead of a table
  -h, --help`
}
