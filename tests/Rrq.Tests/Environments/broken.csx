// Does not compile: the return type does not match.
public int Version() => "two";
