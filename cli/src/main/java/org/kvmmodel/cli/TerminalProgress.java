package org.kvmmodel.cli;

import java.io.Console;
import java.util.function.IntConsumer;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A long verb's progress (conformance cells, stress runs): a bar on stderr, drawn only when the
 * JVM has a console (an interactive terminal), so redirected output, CI logs and tests see
 * nothing of it and stdout is the same on every machine.
 */
final class TerminalProgress implements IntConsumer, AutoCloseable {

  private final ProgressBar bar;

  private TerminalProgress(ProgressBar bar) {
    this.bar = bar;
  }

  /** Progress of {@code task} over {@code steps} steps; silent without a console. */
  static TerminalProgress of(String task, int steps) {
    if (!interactive()) {
      return new TerminalProgress(null);
    }
    return new TerminalProgress(
        new ProgressBarBuilder()
            .setTaskName(task)
            .setInitialMax(steps)
            .setStyle(ProgressBarStyle.ASCII)
            .setConsumer(new ConsoleProgressBarConsumer(System.err))
            .hideEta()
            .build());
  }

  /**
   * Whether stdin and stdout are a terminal: {@code System.console()} is null otherwise, except
   * on Java 22 to 24, whose console exists regardless and answers {@code isTerminal()}.
   */
  private static boolean interactive() {
    Console console = System.console();
    if (console == null) {
      return false;
    }
    try {
      return (Boolean) Console.class.getMethod("isTerminal").invoke(console);
    } catch (ReflectiveOperationException beforeJava22) {
      return true;
    }
  }

  /** {@code done} steps are finished. */
  @Override
  public void accept(int done) {
    if (bar != null) {
      bar.stepTo(done);
    }
  }

  @Override
  public void close() {
    if (bar != null) {
      bar.close();
    }
  }
}
