import VQCore

/// Lines that name a snapshot's problems at the top of a view.
enum ProblemLines {
    /// Nothing when there is no problem; otherwise up to `limit` lines, the last one counting what
    /// did not fit.
    static func summary(_ problems: [RingProblem], limit: Int) -> [StyledLine] {
        guard !problems.isEmpty, limit > 0 else { return [] }
        if problems.count > limit {
            var lines = problems.prefix(limit - 1).map(line)
            let rest = problems.count - (limit - 1)
            let first = problems[limit - 1]
            lines.append(StyledLine([
                Span("\(first.mark) ", CellStyle(first.severity, bold: true)),
                Span("\(problems.count) problems", CellStyle(first.severity, bold: true)),
                Span(rest < problems.count ? " (\(rest) more) · " : " · ", .dim),
                Span(first.message, CellStyle(first.severity)),
                Span("  (Chains lists them)", .dim),
            ]))
            return lines
        }
        return problems.map(line)
    }

    /// `✗ chain 20: descriptor 3 has length 0` in the problem's color.
    static func line(_ problem: RingProblem) -> StyledLine {
        StyledLine([Span("\(problem.mark) ", CellStyle(problem.severity, bold: true)), Span(problem.message, CellStyle(problem.severity))])
    }
}
