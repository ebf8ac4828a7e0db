package org.kvmmodel.cli;

import java.io.PrintWriter;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/** The {@code kvmmodel} command: one picocli subcommand per verb. */
@Command(
    name = "kvmmodel",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "A plugin-based, multi-architecture model of Linux KVM's memory virtualisation.",
    subcommands = {ListCommand.class, ScenariosCommand.class, RunCommand.class, StressCommand.class, ExploreCommand.class, ConformanceCommand.class, MutantsCommand.class, DecodeCommand.class, CommandLine.HelpCommand.class})
public final class Main {

  /** Exit status for bad usage or bad configuration. */
  public static final int EXIT_USAGE = 2;

  /** Exit status when a check failed. */
  public static final int EXIT_CHECK_FAILED = 1;

  /** Refuses an output format other than {@code text} and {@code json}. */
  static void requireTextOrJson(String format) {
    if (!format.equals("text") && !format.equals("json")) {
      throw new IllegalArgumentException("unknown format '" + format + "' (allowed: text, json)");
    }
  }

  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns the exit status instead of exiting. */
  public static int run(String... args) {
    return run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
  }

  /** Runs the command line with the given streams; returns the exit status. */
  public static int run(PrintWriter out, PrintWriter err, String... args) {
    Locale.setDefault(Locale.US);
    CommandLine cli = new CommandLine(new Main());
    cli.setOut(out);
    cli.setErr(err);
    cli.setExitCodeExceptionMapper(t -> EXIT_USAGE);
    cli.setParameterExceptionHandler(
        (ex, argv) -> {
          ex.getCommandLine().getErr().println("kvmmodel: " + ex.getMessage());
          ex.getCommandLine().usage(ex.getCommandLine().getErr());
          return EXIT_USAGE;
        });
    if (args.length == 0) {
      cli.usage(cli.getOut());
      return EXIT_USAGE;
    }
    return cli.execute(args);
  }
}
