import Glibc

/// A POSIX thread running one closure, joined by its owner. (VQDemo keeps to Glibc, without
/// Foundation, so that the demo guest stays a small process.)
final class DemoThread: Sendable {
    private let thread: pthread_t

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts a thread running `body`.
    init(_ body: @escaping @Sendable () -> Void) throws(DemoError) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { context in
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw .system("pthread_create", rc)
        }
        self.thread = thread
    }

    /// Waits for the thread to end.
    func join() { pthread_join(thread, nil) }
}
