package org.kvmmodel.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** What the command-line tests share: a scratch directory and the verb's captured output. */
abstract class CommandLineTest {

  @TempDir Path dir;

  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  /** Runs the command line with the output captured; returns its exit status. */
  int run(String... args) {
    return Main.run(new PrintWriter(out), new PrintWriter(err), args);
  }
}
