/** The picocli commands, shared option mixins, the exit-code mapper and progress display. */
package dev.paft.cli;
