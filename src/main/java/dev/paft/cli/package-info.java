/**
 * The picocli commands, shared option mixins, the exit-code mapper and progress display.
 *
 * <p>Import contract: floor 7; may import errors, io, config, engine, data, data.template, eval, merge, report, train, pipeline.
 */
package dev.paft.cli;
