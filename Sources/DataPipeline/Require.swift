/// Checks a caller's contract in every build. (`precondition` is compiled out of this target, which is
/// built with `-Ounchecked` even in debug; these checks sit at API boundaries, never in hot loops.)
@inline(__always)
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
             file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}
