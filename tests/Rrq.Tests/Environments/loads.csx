#load "helpers/helper.csx"

public int Twice(int v) => Helper(v) * 2;
