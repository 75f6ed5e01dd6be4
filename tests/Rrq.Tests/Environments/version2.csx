// A second version of the environment: same function, new answer.
public int Version() => 2;
