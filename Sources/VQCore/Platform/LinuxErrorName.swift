/// Linux error numbers by their symbolic names (`ENOENT`), as guests report them in 9P `Rlerror`
/// and FUSE replies: always Linux's numbering, whatever the host's.
public enum LinuxErrorName {
    /// `ENOENT` for 2; `errno 200` for a number without a name here.
    public static func name(_ number: Int64) -> String {
        if number >= 0, number < Int64(names.count), let name = names[Int(number)] { return name }
        return "errno \(number)"
    }

    private static let names: [String?] = [
        nil, "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF",
        "ECHILD", "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV",
        "ENOTDIR", "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE",
        "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK", "ENAMETOOLONG", "ENOLCK", "ENOSYS", "ENOTEMPTY",
        "ELOOP", nil, "ENOMSG", "EIDRM", nil, nil, nil, nil, nil, nil,
        nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
        "ENOSTR", "ENODATA", "ETIME", nil, nil, nil, nil, nil, nil, nil,
        nil, "EPROTO", nil, nil, "EBADMSG", "EOVERFLOW", nil, nil, nil, nil,
        nil, nil, nil, nil, "EILSEQ", nil, nil, nil, nil, nil,
        nil, nil, nil, nil, nil, "EOPNOTSUPP", nil, nil, nil, nil,
        nil, nil, nil, nil, "ECONNRESET", "ENOBUFS", nil, "ENOTCONN", nil, nil,
        "ETIMEDOUT", "ECONNREFUSED", nil, nil, nil, nil, "ESTALE", nil, nil, nil,
        nil, nil, "EDQUOT", nil, nil, "ECANCELED",
    ]
}
