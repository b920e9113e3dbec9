package dev.paft.cli;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The config key an option field sets: the one place a flag's key is declared. {@link ConfigFlags} turns the
 * annotated fields into the flags layer of the config, the help shows the key and its default after the
 * description, and the user guide's flag table is checked against these annotations (FlagReferenceTest).
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.FIELD)
@interface ConfigKey {
    /** The dotted key, e.g. {@code training.learning_rate}. */
    String value();
}
