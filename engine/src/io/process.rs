//! Process-wide resources the server sets up once: the open-file limit its
//! connection slots need, and giving freed heap memory back to the system
//! after a burst (a connection flood leaves glibc's arenas holding the peak).

/// Raises the soft open-file limit to the hard limit; returns the soft limit
/// now in force. A server started under a default soft limit of 1024 could
/// not fill its connection slots (accept fails with EMFILE long before).
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; no other memory.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own; no other memory.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit = raised;
    }
    Ok(limit.rlim_cur)
}

/// Returns free heap pages to the system (glibc keeps them in its arenas
/// otherwise, so the resident size after a flood stays at its peak).
pub fn trim_freed_memory() {
    // SAFETY: malloc_trim only walks glibc's own allocator state; it takes
    // no pointers from us and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
